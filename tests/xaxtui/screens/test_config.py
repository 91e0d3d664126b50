"""The config editor never loses an edit: the form shows what was saved and writes only the fields touched."""

from pathlib import Path

from textual.widgets import Input, TabbedContent, TextArea

from tests.xaxtui.conftest import wait_for
from xaxtui.app import XaxTui
from xaxtui.screens.config import ConfigScreen


async def test_toml_tab_save_then_form_edit_keeps_both_edits(task_copy: Path):
    app = XaxTui(task_copy)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await wait_for(pilot, lambda: any(i.name == "hidden" for i in screen.query(Input)))
        tabs = screen.query_one(TabbedContent)
        tabs.active = "toml-tab"
        area = screen.query_one(TextArea)
        edited = area.text.replace("hidden = 64", "hidden = 128").replace("log_every_n_steps = 5\n", "")
        area.load_text(edited)
        await pilot.press("ctrl+s")
        assert "hidden = 128" in task_copy.read_text()
        tabs.active = "form-tab"
        fields = {i.name: i for i in screen.query(Input)}
        await wait_for(pilot, lambda: fields["hidden"].value == "128")
        fields["train.max_steps"].value = "400"
        await pilot.press("ctrl+s")
        saved = task_copy.read_text()
        assert "hidden = 128" in saved and "max_steps = 400" in saved, saved
        assert "log_every_n_steps" not in saved and "# width of the hidden layers" in saved
        fields["hidden"].value = "32"
        tabs.active = "toml-tab"
        area.load_text(saved.replace("max_steps = 400", "max_steps = 500"))
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: "unsaved form edits kept: hidden" in str(screen.query_one("#config-message").render())
        )
        assert fields["hidden"].value == "32" and fields["train.max_steps"].value == "500"
        tabs.active = "form-tab"
        await pilot.press("ctrl+s")
        saved = task_copy.read_text()
        assert "hidden = 32" in saved and "max_steps = 500" in saved, saved


async def test_not_saved_error_goes_once_the_toml_is_fixed(task_copy: Path):
    app = XaxTui(task_copy)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await wait_for(pilot, lambda: any(i.name == "hidden" for i in screen.query(Input)))
        screen.query_one(TabbedContent).active = "toml-tab"
        area = screen.query_one(TextArea)
        good = area.text
        area.load_text(good.replace("[train]", "[train"))
        await pilot.press("ctrl+s")
        message = screen.query_one("#config-message")
        assert "not saved" in str(message.render())
        area.load_text(good)
        await wait_for(pilot, lambda: "not saved" not in str(message.render()))
        assert "valid now" in str(message.render())
