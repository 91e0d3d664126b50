"""Snapshots of the config form on a real-sized config (the real engine's recorded schema of mnist, 84 fields).

Taken once the form's rows are mounted and idle, cursor blink off; the fake engine answers ``schema`` from
``tests/fixtures/schemas/mnist.json``, so nothing depends on the machine. ``--snapshot-update`` only after reading
the diff report.
"""

import os
from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

from tests.xaxtui.conftest import FIXTURES, RUNS, wait_for
from xaxtui.config_values import matches
from xaxtui.screens.config import ConfigScreen
from xaxtui.widgets.config_form import ConfigForm

MNIST_FORM = FIXTURES / "tasks" / "mnist_form.toml"


@pytest.fixture(autouse=True)
def _repo_root_and_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(RUNS.parents[2])
    monkeypatch.setenv("FAKE_SCHEMA", str(FIXTURES / "schemas" / "mnist.json"))


def _app():
    from xaxtui.app import XaxTui

    return XaxTui(Path(os.path.relpath(MNIST_FORM)))


async def _form_ready(pilot) -> ConfigForm:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ConfigScreen) and bool(app.screen.query(ConfigForm)))
    form = app.screen.query_one(ConfigForm)
    await wait_for(pilot, lambda: form.rows[0].is_mounted)
    return form


async def _settle(pilot) -> None:
    for widget in pilot.app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


class TestConfigForm:
    def test_form_80x24(self, snap_compare):
        """At 80x24: the legend, the search box, the task's own fields first (● set in the file, ○ default), a
        Select for each choice field, and the footer's ctrl+r Reset and ctrl+f Search."""

        async def run_before(pilot) -> None:
            await _form_ready(pilot)
            await _settle(pilot)

        assert snap_compare(_app(), terminal_size=(80, 24), run_before=run_before)

    def test_form_edited_120x40(self, snap_compare):
        """At 120x40 after a search for "optimizer": only that section shows; lr reset (↺, its default in the
        input), warmup_steps edited (✎), b1 out of its bounds (red, with the reason under it), a Select for kind."""

        async def run_before(pilot) -> None:
            form = await _form_ready(pilot)
            search = form.query_one("#form-search", Input)
            search.value = "optimizer"
            lr = form.row("optimizer.lr")
            wanted = [matches(row.spec, "optimizer") for row in form.rows]
            await wait_for(pilot, lambda: [row.display for row in form.rows] == wanted)
            lr.editor.focus()
            await pilot.press("ctrl+r")
            warmup_row, b1_row = form.row("optimizer.warmup_steps"), form.row("optimizer.b1")
            warmup, b1 = warmup_row.editor, b1_row.editor
            assert isinstance(warmup, Input) and isinstance(b1, Input)
            warmup.value = "100"
            b1.value = "1.5"
            search.focus()
            # under load the Changed messages land later than one pause: wait for what the snapshot shows
            await wait_for(
                pilot,
                lambda: lr._drawn[0] == "reset" and warmup_row._drawn[0] == "edited" and bool(b1_row._drawn[1]),
            )
            await _settle(pilot)
            form.query_one("#form-fields").scroll_home(animate=False)  # focus moves may have scrolled, load-dependent
            await _settle(pilot)

        assert snap_compare(_app(), terminal_size=(120, 40), run_before=run_before)
