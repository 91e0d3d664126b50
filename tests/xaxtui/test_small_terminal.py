"""Every screen stays usable at 80x24: the footer keeps ``? Help`` and ``q Quit``, the launch form scrolls to its
button, and any run-view pane can fill the screen (``z``)."""

import sys
from pathlib import Path

import pytest
from textual.widgets import Button, Footer
from textual.widgets._footer import FooterKey

from tests.xaxtui.conftest import FIXTURES, RUN_A, RUNS, wait_for
from xaxtui.app import XaxTui
from xaxtui.screens import launch
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.checkpoints import CheckpointTable
from xaxtui.widgets.logs import LogPane

SMALL = (80, 24)


def visible_footer_keys(screen: object) -> list[str]:
    """The footer's keys whose whole label lies inside the 80 columns."""
    footer = screen.query_one(Footer)  # ty: ignore[unresolved-attribute]
    return [key.key for key in footer.query(FooterKey) if key.region.width and key.region.right <= SMALL[0]]


async def test_run_view_footer_keeps_help_and_quit_at_80x24():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        await wait_for(pilot, lambda: len(visible_footer_keys(app.screen)) > 2)
        keys = visible_footer_keys(app.screen)
        assert keys[:2] == ["question_mark", "q"]
        await pilot.press("question_mark")  # the footer's copy of the key opens the app's help
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")


async def test_picker_footer_keeps_help_quit_and_open_at_80x24():
    app = XaxTui(RUNS)
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await wait_for(pilot, lambda: len(visible_footer_keys(app.screen)) > 2)
        assert {"question_mark", "q", "enter"} <= set(visible_footer_keys(app.screen))


async def test_launch_form_scrolls_to_its_button_at_80x24(task_copy: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(launch, "_DEVICES_CACHE", {})
    monkeypatch.setenv("XAX_ENGINE_CMD", f"{sys.executable} {FIXTURES / 'devices_engine.py'}")
    monkeypatch.setenv("FAKE_LAYOUTS", "single_device,multi_cpu")
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SMALL) as pilot:
        app.open_launch(task_copy)
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.devices_checked, 60)
        button = app.screen.query_one("#launch-button", Button)
        form = app.screen.query_one("#launch-box")
        await wait_for(pilot, lambda: form.max_scroll_y > 0)  # the form is taller than 24 rows: it must scroll...
        button.focus()
        await wait_for(pilot, lambda: button.region.height > 0 and button.region.bottom <= SMALL[1] - 1)  # ...reachable
        await wait_for(pilot, lambda: "question_mark" in visible_footer_keys(app.screen))


@pytest.mark.parametrize("focus", ["checkpoints", "logs"])
async def test_z_fills_the_screen_with_the_focused_pane_and_restores_it(focus: str):
    app = XaxTui(RUN_A)
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        screen = app.screen
        pane = screen.query_one(CheckpointTable) if focus == "checkpoints" else screen.query_one(LogPane)
        pane.focus()
        await pilot.pause()
        before = pane.region.height
        assert before < 12
        await pilot.press("z")
        await wait_for(pilot, lambda: pane.region.height >= SMALL[1] - 2)
        await pilot.press("z")
        await wait_for(pilot, lambda: pane.region.height == before)
