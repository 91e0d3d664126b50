"""Regenerates ``docs/run_view.svg``: the run view during a real digits run, launched by the app.

Run from the repository root::

    HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu .venv/bin/python bench/screenshot.py

It starts ``xaxengine run tasks/mnist.toml ... --events -`` through the app (``$XAX_ENGINE_CMD`` picks another
engine command), waits until the charts hold a few dozen train points, a few validation points and two
checkpoints, pauses the engine (SIGSTOP) for one consistent moment, saves the screenshot with Textual's
``save_screenshot``, then lets the engine go on and stops it gracefully.
"""

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xaxtui.app import XaxTui  # noqa: E402
from xaxtui.screens.run import RunScreen  # noqa: E402
from xaxtui.session import RunSession  # noqa: E402
from xaxtui.widgets.charts import MetricChart  # noqa: E402

OVERRIDES = [
    "train.max_steps=3000",
    "train.log_every_n_steps=5",
    "train.valid_every_n_steps=50",
    "checkpoint.save_every_n_steps=100",
    "optimizer.lr=2e-4",
]


def _ready(app: XaxTui, session: RunSession, train_points: int) -> bool:
    state = session.state
    train = state.series.get(("loss", "train"))
    valid = state.series.get(("loss", "valid"))
    screen = app.screen
    return (
        state.status == "running"
        and train is not None
        and len(train) >= train_points
        and valid is not None
        and len(valid) >= 3
        and len(state.checkpoints) >= 2
        and isinstance(screen, RunScreen)
        and len(list(screen.query(MetricChart))) >= 2
    )


async def take(out: Path, size: tuple[int, int], train_points: int, timeout: float) -> None:
    """Launches the run, waits for enough data, saves the SVG, stops the run.

    Args:
        out: Where the SVG goes.
        size: Terminal columns and rows.
        train_points: Train loss points to wait for before the picture.
        timeout: Seconds to wait for them.
    """
    task = Path("tasks/mnist.toml")
    with tempfile.TemporaryDirectory() as runs_dir:
        app = XaxTui(task, runs_dir=Path(runs_dir))
        async with app.run_test(size=size) as pilot:
            session = app.launch(task, OVERRIDES, Path(runs_dir))
            deadline = time.monotonic() + timeout
            while not _ready(app, session, train_points):
                if session.ended or time.monotonic() > deadline:
                    raise SystemExit(f"no picture: status {session.state.status}, logs {list(session.state.logs)[-5:]}")
                await pilot.pause(0.1)
            session.signal(signal.SIGSTOP)  # hold the engine so that the picture shows one consistent moment
            await pilot.pause(0.5)
            screen = app.screen
            assert isinstance(screen, RunScreen)
            await screen.refresh_view()
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            app.save_screenshot(filename=out.name, path=str(out.parent))
            shown_step, shown_points = session.state.step, len(session.state.series["loss", "train"])
            session.signal(signal.SIGCONT)
            session.signal(signal.SIGTERM)
            deadline = time.monotonic() + 60
            while not session.ended and time.monotonic() < deadline:
                await pilot.pause(0.1)
    print(f"wrote {out} (step {shown_step}, {shown_points} train points)")


def main() -> None:
    """Parses the options and takes the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "run_view.svg")
    parser.add_argument("--size", default="120x36", help="terminal COLSxROWS")
    parser.add_argument("--train-points", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.size.split("x"))
    os.chdir(ROOT)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(take(args.out.resolve(), (cols, rows), args.train_points, args.timeout))


if __name__ == "__main__":
    main()
