"""Snapshots of the main screens at 100x32 with recorded events (UTC clock, no cursor blink).

Every picture is taken only once the screen has settled, told by public signals only: the run view says it drew the
latest fold of every session at its final size (``RunScreen.is_settled``, see :func:`run_view_settled`), the picker
counts the scans it has shown. A slow machine changes how long a test takes, never what it draws. Recorded runs are
finished, so nothing on screen depends on the wall clock.
"""

import os

import pytest
from textual.widgets import DataTable, Input, Select, Static, TabbedContent, TextArea

from tests.xaxtui.conftest import RUN_A, RUN_B, RUNS, SWEEP_DIR, SWEEP_RUNS, TASK, wait_for
from xaxtui.app import XaxTui
from xaxtui.messages import OpenSweepRequested
from xaxtui.screens.chart import ChartScreen
from xaxtui.screens.config import ConfigScreen
from xaxtui.screens.help import HelpScreen
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.screens.sweep import SweepScreen
from xaxtui.widgets.best_curve import BestCurve
from xaxtui.widgets.charts import ChartPane
from xaxtui.widgets.checkpoints import CheckpointTable
from xaxtui.widgets.config_form import ConfigForm
from xaxtui.widgets.live_curves import LiveCurves
from xaxtui.widgets.logs import LogPane
from xaxtui.widgets.param_scatter import ParamScatter
from xaxtui.widgets.runs import RunsTable
from xaxtui.widgets.stats import StatsPane
from xaxtui.widgets.sweep_builder import SweepBuilder
from xaxtui.widgets.trials import TrialsTable

SIZE = (100, 32)


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(RUNS.parents[2])


def _rel(path):
    from pathlib import Path

    return Path(os.path.relpath(path))


def _no_blink(app) -> None:
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False


def run_view_settled(app) -> bool:
    """The run view shows everything its sessions hold: all folded, drawn at the final size, every pane filled."""
    screen = app.screen
    if not isinstance(screen, RunScreen) or not all(s.state.finished for s in screen.sessions):
        return False
    if not screen.is_settled:
        return False
    state = screen.session.state
    logs = screen.query_one(LogPane)
    table = screen.query_one(CheckpointTable)
    return (
        table.row_count == len(state.checkpoints)
        and len(screen.query_one(StatsPane).query(".gpu-row")) == 2 * len(state.gpus)
        and logs.size.width > 0
        and len(logs.lines) == len(state.logs)
    )


async def _settle(pilot, predicate=run_view_settled) -> None:
    """Waits (bounded by a generous deadline) until ``predicate(app)`` holds twice, with idle frames between."""
    for _ in range(2):
        await wait_for(pilot, lambda: predicate(pilot.app), timeout=60)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


class TestRunView:
    def test_finished_run(self, snap_compare):
        """A finished run: header, loss and accuracy charts (train+valid), stats with a GPU, 3 checkpoints, logs."""

        async def run_before(pilot) -> None:
            await _settle(pilot)

        assert snap_compare(XaxTui(_rel(RUN_A)), terminal_size=SIZE, run_before=run_before)

    def test_compare_log_y(self, snap_compare):
        """Two runs on shared charts with stable run colors, log y axis, loss only."""

        async def run_before(pilot) -> None:
            await _settle(pilot)
            await pilot.press("l", "slash")
            await wait_for(pilot, lambda: isinstance(pilot.app.focused, Input))
            await pilot.press("l", "o", "s", "s", "enter")

            def filtered(app) -> bool:
                pane = app.screen.query_one(ChartPane)
                return pane.options.log_y and pane.options.pattern == "loss" and run_view_settled(app)

            await _settle(pilot, filtered)

        app = XaxTui(_rel(RUNS))
        app.call_later(lambda: app.show_runs([_rel(RUN_A), _rel(RUN_B)]))
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def chart_settled(app) -> bool:
    """The full-screen chart drew the finished run at its final size."""
    screen = app.screen
    return isinstance(screen, ChartScreen) and screen.draws > 0 and screen.chart.fits_size


class TestChartScreen:
    def test_full_screen_chart_80x24(self, snap_compare):
        """The loss chart full screen at 80x24: train and valid, cursor at the newest step, readout under it."""

        async def run_before(pilot) -> None:
            await _settle(pilot)
            await pilot.press("f")
            await _settle(pilot, chart_settled)

        assert snap_compare(XaxTui(_rel(RUN_A)), terminal_size=(80, 24), run_before=run_before)

    def test_full_screen_chart_zoomed_120x40(self, snap_compare):
        """Two compared runs' loss full screen at 120x40, zoomed in twice around a cursor moved 5 columns left."""

        async def run_before(pilot) -> None:
            await _settle(pilot)
            await pilot.press("f")
            await _settle(pilot, chart_settled)
            await pilot.press(*["left"] * 5, "plus", "plus")
            await _settle(pilot, lambda app: chart_settled(app) and app.screen.view is not None)

        app = XaxTui(_rel(RUNS))
        app.call_later(lambda: app.show_runs([_rel(RUN_A), _rel(RUN_B)]))
        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


class TestOtherScreens:
    def test_picker(self, snap_compare):
        """The picker lists both recorded runs, newest first, with status, step and last loss."""

        async def run_before(pilot) -> None:
            screen = pilot.app.screen
            assert isinstance(screen, PickerScreen)
            table = screen.query_one(RunsTable)
            await wait_for(
                pilot,
                lambda: (
                    screen.scans_shown >= 1
                    and table.row_count == 2
                    and "2 runs" in str(pilot.app.screen.query_one("#picker-title", Static).render())
                ),
            )
            await pilot.press("space")
            await wait_for(pilot, lambda: bool(table.selected))
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()

        assert snap_compare(XaxTui(_rel(RUNS)), terminal_size=SIZE, run_before=run_before)

    def test_config_form(self, snap_compare):
        """The form generated from the schema: sections with their counts, a marked input per field, help under it."""

        async def run_before(pilot) -> None:
            app = pilot.app
            await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen) and bool(app.screen.query(ConfigForm)))
            await wait_for(pilot, lambda: bool(app.screen.query_one(ConfigForm).query(Input)))
            _no_blink(app)
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()

        assert snap_compare(XaxTui(_rel(TASK)), terminal_size=SIZE, run_before=run_before)

    def test_config_sweep_tab(self, snap_compare):
        """The sweep tab with one range added (lr, log-uniform around its value) and the next field's suggestion."""

        async def run_before(pilot) -> None:
            app = pilot.app
            await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen) and bool(app.screen.query(SweepBuilder)))
            app.screen.query_one(TabbedContent).active = "sweep-tab"
            await pilot.pause()
            app.screen.query_one("#sweep-field", Select).value = "optimizer.lr"
            await wait_for(pilot, lambda: app.screen.query_one("#sweep-bounds", Input).value == "0.0002, 0.02")
            await pilot.click("#sweep-add")
            table = app.screen.query_one("#sweep-ranges", DataTable)
            # the row, and the columns measured to it (a loaded machine drew the snapshot before the re-measure)
            await wait_for(pilot, lambda: table.row_count == 1)
            await wait_for(pilot, lambda: next(iter(table.columns.values())).content_width >= len("optimizer.lr"))
            app.screen.query_one("#sweep-field", Select).value = "hidden"
            await wait_for(pilot, lambda: app.screen.query_one("#sweep-bounds", Input).value == "32, 128")
            app.screen.query_one("#sweep-add").focus()
            _no_blink(app)
            await pilot.wait_for_scheduled_animations()
            # the drawn row itself, not only the measured column: a loaded CI run drew the row cut to 'optim'
            await wait_for(pilot, lambda: "optimizer.lr" in table.render_line(1).text)
            await pilot.pause()

        assert snap_compare(XaxTui(_rel(TASK)), terminal_size=SIZE, run_before=run_before)

    def test_launch(self, snap_compare):
        """Layouts after ``xaxengine devices`` failed (the fake engine has no such command): single device only."""

        async def run_before(pilot) -> None:
            app = pilot.app
            await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen))
            app.open_launch(_rel(TASK))
            await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.devices_checked, 60)
            _no_blink(app)
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()

        assert snap_compare(XaxTui(_rel(TASK)), terminal_size=SIZE, run_before=run_before)

    def test_help(self, snap_compare):
        """The help screen, generated from the key registry."""

        async def run_before(pilot) -> None:
            await _settle(pilot)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()

        assert snap_compare(XaxTui(_rel(RUN_A)), terminal_size=SIZE, run_before=run_before)


class TestSweepView:
    def test_sweep_view(self, snap_compare):
        """A finished 6-trial sweep: the trials table (trial 4 starred, trial 2 pruned), the best-so-far curve, the
        live-curves chart with no running trial, and the objective against the log-scale lr (the best starred)."""

        async def run_before(pilot) -> None:
            app = pilot.app

            def drawn(app) -> bool:
                screen = app.screen
                return (
                    isinstance(screen, SweepScreen)
                    and screen.reads_shown >= 1
                    and screen.query_one(TrialsTable).row_count == 6
                    and screen.query_one(BestCurve).fits_size
                    and screen.query_one(LiveCurves).fits_size
                    and bool(scatters := list(screen.query(ParamScatter)))
                    and all(c.fits_size and c.points.x for c in scatters)
                )

            app.post_message(OpenSweepRequested(_rel(SWEEP_DIR)))
            await _settle(pilot, drawn)

        assert snap_compare(XaxTui(_rel(SWEEP_RUNS)), terminal_size=SIZE, run_before=run_before)
