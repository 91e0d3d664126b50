"""The main views at the smallest supported terminal (80x24) and a common one (120x40), with recorded events.

Each picture is taken once the screen has settled (the predicates of ``test_snapshots``), so a slow machine changes
how long a test takes, never what it draws.
"""

from pathlib import Path

import pytest
from textual.widgets import Static

from tests.xaxtui.conftest import RUN_A, RUN_B, RUNS, SWEEP_DIR, SWEEP_RUNS, wait_for
from tests.xaxtui.test_snapshots import _rel, _settle, run_view_settled
from xaxtui.app import XaxTui
from xaxtui.messages import OpenSweepRequested
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.sweep import SweepScreen
from xaxtui.screens.waiting import WaitingScreen
from xaxtui.widgets.best_curve import BestCurve
from xaxtui.widgets.live_curves import LiveCurves
from xaxtui.widgets.param_scatter import ParamScatter
from xaxtui.widgets.runs import RunsTable
from xaxtui.widgets.trials import TrialsTable

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(RUNS.parents[2])


@pytest.mark.parametrize("size", SIZES)
def test_run_view(snap_compare, size):
    """A finished run: header, charts, stats, checkpoints and the log, every pane inside the terminal."""

    async def run_before(pilot) -> None:
        await _settle(pilot)

    assert snap_compare(XaxTui(_rel(RUN_A)), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare(snap_compare, size):
    """Two runs compared: labelled by the config values that differ, each in its own color."""

    async def run_before(pilot) -> None:
        await _settle(pilot, lambda app: run_view_settled(app) and len(app.screen.sessions) == 2)

    app = XaxTui(_rel(RUNS))
    app.call_later(lambda: app.show_runs([_rel(RUN_A), _rel(RUN_B)]))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_picker(snap_compare, size):
    """The picker with the config columns that differ between the runs, best valid loss, duration and tags."""

    async def run_before(pilot) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, PickerScreen)
        table = screen.query_one(RunsTable)
        title = screen.query_one("#picker-title", Static)
        await wait_for(
            pilot, lambda: screen.scans_shown >= 1 and table.row_count == 2 and "2 runs" in str(title.render())
        )
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(XaxTui(_rel(RUNS)), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_sweep_view(snap_compare, size):
    """A finished 6-trial sweep: trials, best-so-far, live curves and the objective against each parameter."""

    async def run_before(pilot) -> None:
        def drawn(app) -> bool:
            screen = app.screen
            return (
                isinstance(screen, SweepScreen)
                and screen.reads_shown >= 1
                and screen.query_one(TrialsTable).row_count == 6
                and screen.query_one(BestCurve).fits_size
                and screen.query_one(LiveCurves).fits_size
                and all(c.fits_size and c.points.x for c in screen.query(ParamScatter))
            )

        pilot.app.post_message(OpenSweepRequested(_rel(SWEEP_DIR)))
        await _settle(pilot, drawn)

    assert snap_compare(XaxTui(_rel(SWEEP_RUNS)), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_waiting_for_a_run_dir(snap_compare, size, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``xax-tui RUN_DIR`` before the run exists: a message saying what it waits for, the keys to leave."""
    monkeypatch.chdir(tmp_path)

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, WaitingScreen))
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(XaxTui(Path("runs/mnist/20261201-120000-wait")), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, size):
    """``?`` on the run view: the screen's keys first, each with the line saying what it does."""
    from xaxtui.screens.help import HelpScreen

    async def run_before(pilot) -> None:
        await _settle(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(XaxTui(_rel(RUN_A)), terminal_size=size, run_before=run_before)
