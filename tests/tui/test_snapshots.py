"""Snapshots of the main screens at 100x32 with recorded events (UTC clock, no cursor blink)."""

import os

import pytest
from conftest import RUN_A, RUN_B, RUNS, TASK, wait_for
from textual.widgets import Input, TextArea

from xaxtui.app import XaxTui
from xaxtui.screens.config import ConfigScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.config_form import ConfigForm
from xaxtui.widgets.runs import RunsTable

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


async def _settle(pilot) -> None:
    await pilot.pause(0.3)
    await pilot.app.screen.refresh_view(True)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.3)


class TestRunView:
    def test_finished_run(self, snap_compare):
        """A finished run: header, loss and accuracy charts (train+valid), stats with a GPU, 3 checkpoints, logs."""

        async def run_before(pilot) -> None:
            app = pilot.app
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
            await _settle(pilot)

        assert snap_compare(XaxTui(_rel(RUN_A)), terminal_size=SIZE, run_before=run_before)

    def test_compare_log_y(self, snap_compare):
        """Two runs on shared charts with stable run colors, log y axis, loss only."""

        async def run_before(pilot) -> None:
            app = pilot.app
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            await wait_for(pilot, lambda: all(s.state.finished for s in app.screen.sessions))
            await pilot.press("l", "slash", "l", "o", "s", "s", "enter")
            await pilot.pause(0.3)

        app = XaxTui(_rel(RUNS))
        app.call_later(lambda: app.show_runs([_rel(RUN_A), _rel(RUN_B)]))
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


class TestOtherScreens:
    def test_picker(self, snap_compare):
        """The picker lists both recorded runs, newest first, with status, step and last loss."""

        async def run_before(pilot) -> None:
            await wait_for(pilot, lambda: pilot.app.screen.query_one(RunsTable).row_count == 2)
            await pilot.press("space")
            await pilot.pause(0.1)

        assert snap_compare(XaxTui(_rel(RUNS)), terminal_size=SIZE, run_before=run_before)

    def test_config_form(self, snap_compare):
        """The form generated from the schema: one input per field, help under it."""

        async def run_before(pilot) -> None:
            app = pilot.app
            await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen) and bool(app.screen.query(ConfigForm)))
            _no_blink(app)
            await pilot.pause(0.1)

        assert snap_compare(XaxTui(_rel(TASK)), terminal_size=SIZE, run_before=run_before)

    def test_launch(self, snap_compare):
        """Layouts: single device enabled, the others disabled and marked not built yet."""

        async def run_before(pilot) -> None:
            app = pilot.app
            await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen))
            app.open_launch(_rel(TASK))
            await pilot.pause(0.2)
            _no_blink(app)
            await pilot.pause(0.1)

        assert snap_compare(XaxTui(_rel(TASK)), terminal_size=SIZE, run_before=run_before)

    def test_help(self, snap_compare):
        """The help screen, generated from the key registry."""

        async def run_before(pilot) -> None:
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunScreen))
            await pilot.press("question_mark")
            await pilot.pause(0.2)

        assert snap_compare(XaxTui(_rel(RUN_A)), terminal_size=SIZE, run_before=run_before)
