"""The TUI driving the real engine: a short digits run, watched until it finishes."""

import sys
from pathlib import Path

import pytest

from tests.xaxtui.conftest import wait_for
from xaxtui.app import XaxTui
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.charts import MetricChart
from xaxtui.widgets.checkpoints import CheckpointTable

ROOT = Path(__file__).resolve().parents[2]
ENGINE = Path(sys.executable).parent / "xaxengine"
MNIST = ROOT / "tasks" / "mnist.toml"


@pytest.mark.skipif(
    not ENGINE.exists() or not MNIST.exists(), reason="the xaxengine CLI or tasks/mnist.toml is missing"
)
async def test_real_digits_run_step_count_advances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XAX_ENGINE_CMD", str(ENGINE))
    for name, value in (("JAX_PLATFORMS", "cpu"), ("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1")):
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    app = XaxTui(MNIST, runs_dir=tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        # 150 updates over several seconds, so a UI that folds several at once, or gets no CPU for a while on a
        # loaded machine (200 steps once finished between two of its polls), still sees some.
        session = app.launch(MNIST, ["train.max_steps=3000", "train.log_every_n_steps=20"], tmp_path)
        seen: list[int] = []

        def progressed() -> bool:
            if not seen or seen[-1] != session.state.step:
                seen.append(session.state.step)
            return session.ended

        await wait_for(pilot, progressed, timeout=240)
        assert session.returncode == 0 and session.state.status == "finished"
        assert len({s for s in seen if 0 < s <= 3000}) >= 2 and seen[-1] == 3000
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_for(pilot, lambda: "loss" in {c.metric for c in screen.query(MetricChart)})
        assert len(session.state.series["loss", "train"].values) >= 2
        await wait_for(pilot, lambda: screen.query_one(CheckpointTable).row_count >= 1)
        assert session.run_dir is not None and (session.run_dir / "events.jsonl").exists()
