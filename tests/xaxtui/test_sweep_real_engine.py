"""The sweep view driving a real sweep: live curves of the running trials, ``+`` to run two at once, ``p`` to prune."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.xaxtui.conftest import wait_for
from xaxtui.app import XaxTui
from xaxtui.messages import OpenSweepRequested
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.sweep import SweepScreen
from xaxtui.widgets.trials import TrialsTable

ROOT = Path(__file__).resolve().parents[2]
ENGINE = Path(sys.executable).parent / "xaxengine"
MNIST = ROOT / "tasks" / "mnist.toml"
SWEEP = """task = "mnist.toml"
objective = "valid/accuracy"
direction = "maximize"
trials = 2
parallel = 1
sampler = "random"
pruner = "none"
overrides = ["train.max_steps=400000", "train.max_seconds=150", "train.log_every_n_steps=50",
             "train.valid_every_n_steps=50", "checkpoint.save_every_n_steps=100000", "depth=1", "hidden=32"]

[params]
"optimizer.lr" = { log_uniform = [1e-3, 1e-2] }
"""


def _rows(sweep_dir: Path) -> dict[int, dict]:
    try:
        return {r["number"]: r for r in json.loads((sweep_dir / "status.json").read_text())["rows"]}
    except (OSError, ValueError, KeyError):
        return {}


def _points(screen: SweepScreen, number: int) -> int:
    tail = screen.live.tails.get(number)
    series = tail.state.series.get(("accuracy", "valid")) if tail is not None else None
    return len(series) if series is not None else 0


@pytest.mark.skipif(
    not ENGINE.exists() or not MNIST.exists(), reason="the xaxengine CLI or tasks/mnist.toml is missing"
)
async def test_a_live_sweep_is_watched_widened_and_pruned_from_the_sweep_view(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XAX_ENGINE_CMD", str(ENGINE))
    for name, value in (("JAX_PLATFORMS", "cpu"), ("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1")):
        monkeypatch.setenv(name, value)
    (tmp_path / "mnist.toml").write_text(MNIST.read_text())
    (tmp_path / "digits.sweep.toml").write_text(SWEEP)
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()  # a path that does not exist yet is waited for as a run dir, not listed as a runs dir
    driver = subprocess.Popen(
        [str(ENGINE), "sweep", str(tmp_path / "digits.sweep.toml"), "--runs-dir", str(runs_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        app = XaxTui(runs_dir)
        async with app.run_test(size=(110, 34)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
            await wait_for(pilot, lambda: any((runs_dir / "sweeps").glob("*/sweep.json")), timeout=120)
            (sweep_dir,) = [p.parent for p in (runs_dir / "sweeps").glob("*/sweep.json")]
            app.post_message(OpenSweepRequested(sweep_dir))
            await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
            screen = app.screen
            assert isinstance(screen, SweepScreen)
            await wait_for(pilot, lambda: _points(screen, 0) >= 2, timeout=180)  # trial 0's curve grows live
            assert screen.sweep is not None and screen.sweep.parallel == 1
            color = screen.live.colors[0]

            await pilot.press("plus")
            await wait_for(pilot, lambda: screen.sweep is not None and screen.sweep.parallel == 2, timeout=60)
            await wait_for(pilot, lambda: _points(screen, 1) >= 1, timeout=180)  # a second trial runs beside it
            assert screen.live.colors[0] == color and screen.live.colors[1] != color
            table = screen.query_one(TrialsTable)
            for number in (0, 1):
                await wait_for(pilot, lambda n=number: str(n) in table.trials)
                table.move_cursor(row=table.get_row_index(str(number)))
                assert table.current_trial().number == number
                await pilot.press("p")
                await wait_for(pilot, lambda n=number: _rows(sweep_dir)[n]["state"] == "pruned", timeout=120)
            await wait_for(pilot, lambda: not screen.live.tails, timeout=30)  # ended trials leave the live chart
        out, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 1, out  # the budget is spent, no trial completed
    rows = _rows(sweep_dir)
    assert [rows[n]["reason"].startswith("pruned by hand at step") for n in (0, 1)] == [True, True]
    assert "parallel 1 -> 2" in out
