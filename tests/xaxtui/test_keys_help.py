"""Help, palette and dialogs tell what each key does, all from the one registry (``xaxtui/keys.py``), under Pilot.

``?`` on any screen lists that screen's keys first, each with its label and a line saying what it does; the palette
shows each action with its key; the dialogs' buttons show their keys (they were swallowed as markup before).
"""

import io
from collections.abc import Callable

import pytest
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Static, TextArea

from tests.xaxtui.conftest import RUN_A, RUN_B, SWEEP_DIR, SWEEP_RUNS, TASK, wait_for
from xaxtui.app import XaxTui
from xaxtui.commands import ActionCommands
from xaxtui.keys import KEYS, SCOPES, Key, display_key, keys_for
from xaxtui.screens.base import key_scope
from xaxtui.screens.chart import ChartScreen
from xaxtui.screens.config import ConfigScreen
from xaxtui.screens.config_diff import ConfigDiffScreen
from xaxtui.screens.dialogs import ConfirmDialog, PathPrompt, QuitScreen
from xaxtui.screens.help import HelpScreen
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.media import MediaScreen
from xaxtui.screens.overview import OverviewScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.screens.sweep import SweepScreen
from xaxtui.screens.sweeps import SweepsScreen
from xaxtui.screens.waiting import WaitingScreen
from xaxtui.widgets.charts import SMOOTHING, ChartOptions, ChartPane

SIZE = (110, 32)

SCREENS: dict[str, Callable[[XaxTui], Screen]] = {
    "run": lambda app: RunScreen([app.manager.attach(RUN_A)]),
    "chart": lambda app: ChartScreen([app.manager.attach(RUN_A)], "loss", ["loss"], ChartOptions()),
    "media": lambda app: MediaScreen(app.manager.attach(RUN_A)),
    "overview": lambda app: OverviewScreen(app.manager.attach(RUN_A)),
    "diff": lambda app: ConfigDiffScreen([app.manager.attach(RUN_A), app.manager.attach(RUN_B)]),
    "picker": lambda app: PickerScreen(SWEEP_RUNS),
    "sweeps": lambda app: SweepsScreen(SWEEP_RUNS),
    "sweep": lambda app: SweepScreen(SWEEP_DIR),
    "config": lambda app: ConfigScreen(TASK),
    "launch": lambda app: LaunchScreen(TASK, SWEEP_RUNS),
    "waiting": lambda app: WaitingScreen(SWEEP_RUNS / "not-yet"),
    "quit": lambda app: QuitScreen(1),
    "prompt": lambda app: PathPrompt("task file?"),
    "confirm": lambda app: ConfirmDialog("Delete it?"),
}


def plain(renderable: object, width: int = 400) -> str:
    """What ``renderable`` shows, as text, wide enough that no help line wraps."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def test_every_registered_key_has_a_label_and_a_line_of_help():
    assert all(k.description.strip() and k.help.strip() for k in KEYS)
    assert {k.scope for k in KEYS} == set(SCOPES)
    assert set(SCOPES) - {"app", "help", "focus", "stopping"} == set(SCREENS)  # each screen's scope is tested here
    shown = [f"{w:g}" if w else "off" for w in SMOOTHING]
    smooth = next(k for k in KEYS if k.action == "cycle_smoothing").help
    assert all(w in smooth for w in shown) and [smooth.index(w) for w in shown[1:]] == sorted(
        smooth.index(w) for w in shown[1:]
    )  # what m cycles through, in order


@pytest.mark.parametrize("name", SCREENS)
async def test_question_mark_lists_every_binding_of_the_screen_first_with_what_it_does(name: str):
    app = XaxTui(SWEEP_RUNS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        screen = SCREENS[name](app)
        if name != "picker":
            app.push_screen(screen)
        else:
            screen = app.screen
        await wait_for(pilot, lambda: app.screen is screen and screen.is_mounted)
        await pilot.pause(0.1)
        scope = key_scope(screen)
        assert scope == name
        own = [b for b in screen.BINDINGS if not isinstance(b, tuple)]
        assert own and all(b.description.strip() and b.tooltip.strip() for b in own)
        if isinstance(app.focused, Input | TextArea) or isinstance(screen, ModalScreen):
            await app.run_action("help")  # ? would be typed into the field, or is not the dialog's: the palette's way
        else:
            await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and bool(app.screen.query("#help-table")))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen) and help_screen.scope == name
        text = plain(help_screen.query_one("#help-table", Static).content)
        assert text.index(f"{SCOPES[name]} (this screen)") < text.index(SCOPES["app"])
        this_screen = text[: text.index(SCOPES["app"])]
        for binding in own:
            app_key = ".app." in (binding.id or "")  # the footer's copies of ? and q: listed under Everywhere
            row = next(line for line in (text if app_key else this_screen).splitlines() if binding.tooltip in line)
            assert row.split()[0].rstrip(",") == display_key(binding.key).split()[0].rstrip(","), (binding, row)
            assert binding.description in row
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_palette_shows_each_action_of_the_screen_with_its_key_and_runs_it():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)
        run_screen = app.screen
        entries = ActionCommands(run_screen).entries()
        assert {k.scope for k in entries} == {"run", "app"} and len({k.action for k in entries}) == len(entries)
        assert "config_diff" not in {k.action for k in entries}  # one run: nothing to diff, as in the footer
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        results = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: results.option_count >= len(entries))
        prompts = [plain(results.get_option_at_index(i).prompt) for i in range(results.option_count)]
        for k in entries:
            assert any(k.description in p and display_key(k.key) in p and k.help in p for p in prompts), k
        await pilot.press(*"smooth")
        await wait_for(
            pilot, lambda: results.option_count >= 1 and "Smooth" in plain(results.get_option_at_index(0).prompt)
        )
        assert "m" in plain(results.get_option_at_index(0).prompt).split("Smooth", 1)[1].split()[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: run_screen.query_one(ChartPane).options.smoothing == SMOOTHING[1])


def _labels(screen: Screen) -> list[str]:
    return [str(button.label) for button in screen.query(Button)]


def _keys(scope: str, action: str) -> str:
    key: Key = next(k for k in keys_for(scope) if k.action == action)
    return display_key(key.key).replace(", ", "/")


async def test_dialogs_show_their_accelerators():
    app = XaxTui(RUN_B)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        app.push_screen(QuitScreen(1))
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen) and bool(app.screen.query(Button)))
        assert _labels(app.screen) == ["Stop [s]", "Detach [d]", "Cancel [esc]"]
        await pilot.press("escape")
        app.push_screen(ConfirmDialog("Delete it?"))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog) and bool(app.screen.query(Button)))
        assert _labels(app.screen) == [f"Delete [{_keys('confirm', 'yes')}]", f"Cancel [{_keys('confirm', 'no')}]"]
        assert _labels(app.screen)[1] == "Cancel [n/esc]"
        await pilot.press("n")
        app.push_screen(PathPrompt("task file?"))
        await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt) and bool(app.screen.query("#prompt-keys")))
        assert plain(app.screen.query_one("#prompt-keys", Static).content).strip() == "enter: OK · esc: Cancel"
