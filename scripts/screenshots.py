"""Regenerates the README's "Screens" pictures at 120x40: run view, compare view and its config diff, media pane.

Run from the repository root (no engine, no JAX: recorded runs only)::

    .venv/bin/python scripts/screenshots.py            # writes docs/screens/*.svg
    .venv/bin/python scripts/screenshots.py --out-dir /tmp/shots

The runs are the two recorded digits runs of ``tests/fixtures/recorded_runs`` (the TUI tests' fixtures), copied to a
temporary ``runs/`` dir. The first one also gets an ``image`` event at its last step whose file is the sample grid a
real digits diffusion run produced (``docs/diffusion_samples.png``, written by ``bench/train_quality.py``), so the
media pane shows what such a run logs. Each picture is saved with Textual's ``save_screenshot`` once the screen has
drawn everything its runs hold; the clock zone is UTC, so the pictures do not depend on the machine.
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from xaxtui.app import XaxTui  # noqa: E402
from xaxtui.screens.config_diff import ConfigDiffScreen  # noqa: E402
from xaxtui.screens.media import MediaScreen  # noqa: E402
from xaxtui.screens.run import RunScreen  # noqa: E402
from xaxtui.widgets.checkpoints import CheckpointTable  # noqa: E402
from xaxtui.widgets.logs import LogPane  # noqa: E402

RECORDED = ROOT / "tests" / "fixtures" / "recorded_runs" / "mnist"
RUN_A, RUN_B = "20261125-060000-a1b2", "20261125-070000-c3d4"
SAMPLES = ROOT / "docs" / "diffusion_samples.png"
SIZE = (120, 40)
NAMES = ("run_view.svg", "compare.svg", "media.svg", "config_diff.svg")


def write_runs(root: Path) -> Path:
    """Copies the recorded runs under ``root/runs/mnist`` and logs the sample grid as an image of the first one."""
    runs = root / "runs" / "mnist"
    for run_id in (RUN_A, RUN_B):
        shutil.copytree(RECORDED / run_id, runs / run_id)
    run_dir = runs / RUN_A
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    last = events[-1]
    rel = "artifacts/samples/00000300.png"
    (run_dir / rel).parent.mkdir(parents=True)
    shutil.copy(SAMPLES, run_dir / rel)
    image = {"v": 1, "seq": last["seq"], "t": last["t"], "kind": "image", "step": 300, "name": "samples"}
    image |= {"path": rel, "width": 338, "height": 338}
    last["seq"] += 1
    events[-1:] = [image, last]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return root / "runs"


def _run_view_drawn(app: XaxTui, sessions: int) -> bool:
    """The run view holds ``sessions`` finished runs and shows all they hold, at its final size."""
    screen = app.screen
    if not isinstance(screen, RunScreen) or len(screen.sessions) != sessions:
        return False
    if not all(s.state.finished for s in screen.sessions) or not screen.is_settled:
        return False
    state = screen.session.state
    logs = screen.query_one(LogPane)
    return screen.query_one(CheckpointTable).row_count == len(state.checkpoints) and len(logs.lines) == len(state.logs)


async def _settle(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Waits until ``predicate()`` holds twice, with idle frames between (a loaded machine only takes longer)."""
    for _ in range(2):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("the screen did not settle")
            await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


async def take(runs: Path, out_dir: Path) -> list[Path]:
    """Saves the three pictures of the runs under ``runs`` (a relative path) into ``out_dir``."""
    run_a, run_b = runs / "mnist" / RUN_A, runs / "mnist" / RUN_B
    written = []

    app = XaxTui(run_a)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot, lambda: _run_view_drawn(app, 1))
        written.append(Path(app.save_screenshot(filename=NAMES[0], path=str(out_dir))))
        await pilot.press("i")
        await _settle(pilot, lambda: isinstance(app.screen, MediaScreen) and app.screen.shown is not None)
        written.append(Path(app.save_screenshot(filename=NAMES[2], path=str(out_dir))))

    app = XaxTui(runs)
    app.call_later(lambda: app.show_runs([run_a, run_b]))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot, lambda: _run_view_drawn(app, 2))
        written.append(Path(app.save_screenshot(filename=NAMES[1], path=str(out_dir))))
        await pilot.press("d")
        await _settle(pilot, lambda: isinstance(app.screen, ConfigDiffScreen))
        written.append(Path(app.save_screenshot(filename=NAMES[3], path=str(out_dir))))
    return written


def main() -> None:
    """Parses the options, builds the runs in a temporary dir and writes the pictures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "screens", help="where the SVGs go")
    args = parser.parse_args()
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TZ"] = "UTC"
    time.tzset()
    with tempfile.TemporaryDirectory() as tmp:
        runs = write_runs(Path(tmp))
        os.chdir(tmp)  # the views show paths relative to here: runs/mnist/...
        written = asyncio.run(take(runs.relative_to(tmp), out_dir))
        os.chdir(ROOT)
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
