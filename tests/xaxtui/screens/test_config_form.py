"""The config form at the size of a real config (the real engine's schema of tasks/mnist.toml, 84 fields).

Sections collapse, the search box filters, choices are a Select and bools a Switch that write real TOML values,
numbers are checked against the engine's bounds as you type, each field says whether the file sets it, and ctrl+r
puts one field back to its default by removing only its key.
"""

import shutil
import tomllib
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Switch, TabbedContent, TextArea

from tests.xaxtui.conftest import FIXTURES, wait_for
from xaxtui.app import XaxTui
from xaxtui.config_values import matches
from xaxtui.screens.config import ConfigScreen
from xaxtui.widgets.config_form import ConfigForm

SIZE = (100, 32)
MNIST_FORM = FIXTURES / "tasks" / "mnist_form.toml"
MNIST_SCHEMA = FIXTURES / "schemas" / "mnist.json"


@pytest.fixture
def mnist_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the mnist task; the fake engine answers ``schema`` with the real engine's recording."""
    monkeypatch.setenv("FAKE_SCHEMA", str(MNIST_SCHEMA))
    path = tmp_path / "mnist.toml"
    shutil.copy(MNIST_FORM, path)
    return path


async def _form(pilot) -> ConfigForm:
    screen = pilot.app.screen
    assert isinstance(screen, ConfigScreen)
    await wait_for(pilot, lambda: bool(screen.query(ConfigForm)) and screen.query_one(ConfigForm).rows[0].is_mounted)
    await pilot.pause()
    return screen.query_one(ConfigForm)


def _message(pilot) -> str:
    return str(pilot.app.screen.query_one("#config-message").render())


async def _type(pilot, widget: Input, text: str) -> None:
    """Focuses an input, empties it, and types ``text`` key by key."""
    widget.focus()
    widget.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def test_search_shows_matching_fields_and_hides_other_sections(mnist_task: Path):
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        form = await _form(pilot)
        logger = form.collapsibles["logger"]
        assert logger.collapsed and form.collapsibles["train"].collapsed is False
        await pilot.press("ctrl+f")
        assert app.focused is form.query_one("#form-search")
        await pilot.press("l", "r")
        await pilot.pause()
        await pilot.press("tab", "tab")  # past the section's header to its first field
        assert app.focused is form.row("optimizer.lr").editor
        shown = [row.field_name for row in form.rows if row.display]
        assert shown == [row.field_name for row in form.rows if matches(row.spec, "lr")] == ["optimizer.lr"]
        assert form.collapsibles["optimizer"].display and not form.collapsibles["optimizer"].collapsed
        assert not form.collapsibles["train"].display and not form.collapsibles[""].display
        await _type(pilot, form.query_one("#form-search", Input), "wandb mode")
        assert [row.field_name for row in form.rows if row.display] == ["logger.wandb.mode"]
        assert form.row("logger.wandb.mode").is_mounted  # its closed section opened and mounted its rows
        await _type(pilot, form.query_one("#form-search", Input), "no such field")
        assert "no field matches" in str(form.query_one("#form-empty").render())
        await pilot.press("escape")  # empties the search; the editor stays
        assert form.query_one("#form-search", Input).value == "" and isinstance(app.screen, ConfigScreen)
        assert all(row.display for row in form.rows) and all(c.display for c in form.collapsibles.values())
        assert form.collapsibles["logger.wandb"].collapsed and not form.collapsibles["train"].collapsed


async def test_select_and_switch_write_toml_values(mnist_task: Path):
    before = tomllib.loads(mnist_task.read_text())
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        form = await _form(pilot)
        kind, shuffle = form.row("optimizer.kind"), form.row("data.shuffle")
        assert isinstance(kind.editor, Select) and isinstance(shuffle.editor, Switch)
        assert isinstance(form.row("train.max_steps").editor, Input)
        kind.editor.focus()
        await pilot.press("enter")  # opens the list at adamw; one down is sgd
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: kind.editor.value == "sgd")
        shuffle.editor.focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: shuffle.editor.value is False)
        assert kind.state() == "edited" and shuffle.state() == "edited"
        await pilot.press("ctrl+s")
        saved = mnist_task.read_text()
    after = tomllib.loads(saved)
    assert after["optimizer"]["kind"] == "sgd" and after["data"]["shuffle"] is False
    before["optimizer"]["kind"] = "sgd"
    before["data"]["shuffle"] = False
    assert after == before  # nothing else changed
    assert "shuffle = false" in saved and '# "mnist" loads ylecun/mnist' in saved


async def test_numbers_are_checked_live_against_the_engines_bounds(mnist_task: Path):
    original = mnist_task.read_text()
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        form = await _form(pilot)
        steps, lr = form.row("train.max_steps"), form.row("optimizer.lr")
        steps_error = steps.query_one(f"#error-{steps.index}")
        await _type(pilot, steps.editor, "-5")
        assert "-invalid" in steps.editor.classes and steps_error.display
        assert str(steps_error.render()) == "must be >= 0"
        await _type(pilot, steps.editor, "12.5")
        assert str(steps_error.render()) == "expected int"
        await _type(pilot, lr.editor, "fast")
        assert str(lr.query_one(f"#error-{lr.index}").render()) == "expected float"
        await pilot.press("ctrl+s")
        assert "not saved: train.max_steps: expected int" in _message(pilot)
        assert mnist_task.read_text() == original
        await _type(pilot, steps.editor, "2000")
        await _type(pilot, lr.editor, "3e-4")
        assert not steps_error.display and "-invalid" not in steps.editor.classes
        await pilot.press("ctrl+s")
    saved = tomllib.loads(mnist_task.read_text())
    assert saved["train"]["max_steps"] == 2000 and saved["optimizer"]["lr"] == 3e-4


async def test_markers_tell_set_from_default_fields(mnist_task: Path):
    in_file = set(_flat(tomllib.loads(mnist_task.read_text())))
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        form = await _form(pilot)
        for row in form.rows:
            assert row.state() == ("set" if row.field_name in in_file else "default"), row.field_name
        shown = [row for row in form.rows if row.is_mounted]
        assert len(shown) > 20
        for row in shown:
            label = str(row.query_one(".field-name").render())
            assert label.startswith("● " if row.field_name in in_file else "○ "), label
        assert "16 set in the file" in str(app.screen.query_one("#form-status").render())
        assert "(15 fields, 4 set)" in str(form.collapsibles["train"].title)
        heavy = form.row("train.log_heavy_every_n_steps")
        await _type(pilot, heavy.editor, "100")
        assert heavy.state() == "edited" and str(heavy.query_one(".field-name").render()).startswith("✎ ")
        assert "1 edited" in str(form.collapsibles["train"].title)


async def test_reset_removes_only_that_key_from_the_saved_file(mnist_task: Path):
    original = mnist_task.read_text()
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        form = await _form(pilot)
        await pilot.press("ctrl+r")  # nothing focused in the form yet
        assert "focus one first" in _message(pilot)
        lr = form.row("optimizer.lr")
        lr.editor.focus()
        await pilot.press("ctrl+r")
        assert lr.editor.value == "0.001" and lr.state() == "reset"
        assert "reset to its default 0.001" in _message(pilot)
        assert str(lr.query_one(".field-name").render()).startswith("↺ ")
        await pilot.press("ctrl+s")
        saved = mnist_task.read_text()
        assert saved == original.replace("lr = 2e-3\n", "")  # that line and nothing else
        assert lr.state() == "default" and lr.editor.value == "0.001"
        seed = form.row("train.seed")  # set in the file to its default value: reset still removes the key
        seed.editor.focus()
        await pilot.press("ctrl+r")
        assert seed.state() == "reset"
        warmup = form.row("optimizer.warmup_steps")  # an edit then a reset of the same field: it goes
        await _type(pilot, warmup.editor, "10")
        await pilot.press("ctrl+r")
        await pilot.press("ctrl+s")
    final = mnist_task.read_text()
    assert final == saved.replace("seed = 0\n", "").replace("warmup_steps = 50\n", "")


async def test_collapsing_a_section_hides_its_fields_and_a_closed_one_mounts_on_open(mnist_task: Path):
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        form = await _form(pilot)
        train = form.collapsibles["train"]
        steps = form.row("train.max_steps")
        assert steps.region.height > 0
        await pilot.click(train.query_one("CollapsibleTitle"))
        await wait_for(pilot, lambda: train.collapsed)
        await pilot.pause()
        assert steps.region.area == 0
        profile = form.collapsibles["profile"]
        assert profile.collapsed and not form.row("profile.timing").is_mounted
        profile.query_one("CollapsibleTitle").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.row("profile.timing").is_mounted)
        assert isinstance(form.row("profile.timing").editor, Switch) and form.row("profile.timing").editor.value


async def test_toml_tab_is_syntax_colored(mnist_task: Path):
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        await _form(pilot)
        app.screen.query_one(TabbedContent).active = "toml-tab"
        area = app.screen.query_one("#toml", TextArea)
        await pilot.pause()
        assert area.language == "toml" and area.is_syntax_aware
        names = {name for line in area._highlights.values() for _, _, name in line}
        assert {"comment", "property", "string", "number"} <= names


def _flat(table: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


async def test_toml_tab_save_refuses_a_value_out_of_the_engines_bounds(mnist_task: Path):
    original = mnist_task.read_text()
    app = XaxTui(mnist_task)
    async with app.run_test(size=SIZE) as pilot:
        await _form(pilot)
        app.screen.query_one(TabbedContent).active = "toml-tab"
        area = app.screen.query_one("#toml", TextArea)
        area.load_text(original.replace('kind = "adamw"', 'kind = "adamw"\nb1 = 1.5'))
        await pilot.press("ctrl+s")
        assert "not saved: optimizer.b1: must be < 1" in _message(pilot)
        area.load_text(original.replace('kind = "adamw"', 'kind = "rmsprop"'))
        await pilot.press("ctrl+s")
        assert "not saved: optimizer.kind: must be one of adam, adamw, sgd, lion" in _message(pilot)
    assert mnist_task.read_text() == original
