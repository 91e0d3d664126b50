"""The config editor: a form from ``xaxengine schema``, the raw TOML (saved atomically), and a sweep tab.

The sweep tab turns fields into ranges and writes ``TASK.sweep.toml`` beside the task; ctrl+l there also starts the
sweep (a detached ``xaxengine sweep``) and opens its sweep view.
"""

from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer, Static, TabbedContent, TabPane, TextArea

from xaxtui.config_values import check_text as check_field
from xaxtui.config_values import format_value
from xaxtui.engine import EngineError, schema
from xaxtui.keys import bindings
from xaxtui.messages import OpenLaunchRequested, OpenSweepRequested, ShowRunsRequested
from xaxtui.screens.base import ScopedScreen
from xaxtui.sweep_launch import SweepLaunchError, launch_sweep
from xaxtui.tomledit import apply_changes, flatten, save_atomic
from xaxtui.widgets.config_field import MARKERS
from xaxtui.widgets.config_form import ConfigForm
from xaxtui.widgets.sweep_builder import SweepBuilder


class SchemaLoaded(Message):
    """The schema worker finished (``fields`` is None on error)."""

    def __init__(self, fields: list[dict[str, Any]] | None, error: str = "") -> None:
        super().__init__()
        self.fields = fields
        self.error = error


def check_text(text: str, fields: list[dict[str, Any]] | None) -> str:
    """Validates TOML text (syntax; with the schema, field types, choices and bounds); the first error or ''."""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as error:
        return f"TOML: {error}"
    values = flatten(doc)
    for spec in fields or ():
        name = spec["name"]
        if name in values:
            try:
                check_field(spec, format_value(values[name]))
            except ValueError as error:
                return f"{name}: {error}"
    return ""


class ConfigScreen(ScopedScreen):
    """Edits one task ``.toml``; ctrl+s saves (on the sweep tab: writes the sweep file), ctrl+l goes on to launch."""

    KEY_SCOPE = "config"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, path: Path) -> None:
        """Opens ``path``."""
        super().__init__()
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.fields: list[dict[str, Any]] | None = None
        self.save_error = ""

    def compose(self) -> ComposeResult:
        """Status line, tabs (form, TOML, sweep), footer."""
        yield Static(f"[b]config[/b] {self.path}", id="config-title")
        with TabbedContent(id="config-tabs"):
            with TabPane("Form", id="form-tab"):
                yield Static("loading schema (xaxengine schema)...", id="form-status")
            with TabPane("TOML", id="toml-tab"):
                yield TextArea.code_editor(self.text, language="toml", id="toml")
            with TabPane("Sweep", id="sweep-tab"):
                yield Static("loading schema (xaxengine schema)...", id="sweep-status")
        yield Static("", id="config-message")
        yield Footer()

    def on_mount(self) -> None:
        """Loads the schema in a thread."""
        self.load_schema()

    @work(thread=True, exclusive=True, exit_on_error=False, group="schema")
    def load_schema(self) -> None:
        """Runs ``xaxengine schema`` and posts the result."""
        try:
            self.post_message(SchemaLoaded(schema(self.path).get("fields", [])))
        except (EngineError, ValueError) as error:
            self.post_message(SchemaLoaded(None, str(error)))

    async def on_schema_loaded(self, message: SchemaLoaded) -> None:
        """Builds the form (or says why there is none; the TOML tab still works)."""
        status = self.query_one("#form-status", Static)
        sweep_status = self.query_one("#sweep-status", Static)
        if message.fields is None:
            status.update(f"[red]no form: {message.error}[/]\nEdit the TOML tab instead.")
            sweep_status.update(f"[red]no fields to sweep: {message.error}[/]")
            return
        self.fields = message.fields
        values = flatten(tomlkit.parse(self.text))
        legend = " ".join(f"{symbol} {word}" for symbol, word in MARKERS.values())
        known = sum(f["name"] in values for f in message.fields)
        status.update(Text(f"{len(message.fields)} fields, {known} set in the file · {legend}", "dim"))
        await self.query_one("#form-tab", TabPane).mount(ConfigForm(message.fields, values, id="config-form"))
        self.refresh_bindings()
        sweep_status.display = False
        await self.query_one("#sweep-tab", TabPane).mount(SweepBuilder(self.path, message.fields, id="sweep-builder"))

    def notice(self, text: str, error: bool = False) -> None:
        """Shows a one-line message under the tabs."""
        self.save_error = text if error else ""
        message = Text(text, style="red" if error else "green")
        self.query_one("#config-message", Static).update(message)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The form's keys (reset, search) live on the Form tab once the form is there; the footer follows."""
        if action in ("reset_field", "search_fields"):
            return bool(self.query(ConfigForm)) and self.query_one(TabbedContent).active == "form-tab"
        return True

    def on_tabbed_content_tab_activated(self) -> None:
        """Shows the footer keys of the tab now active."""
        self.refresh_bindings()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Takes back a 'not saved' error once the TOML text no longer has it."""
        if self.save_error and not check_text(event.text_area.text, self.fields):
            self.notice("the TOML is valid now · ctrl+s saves")

    def action_save(self) -> bool:
        """Saves the active tab's edits (form fields into the TOML, the TOML as typed, or the sweep file)."""
        if self.query_one(TabbedContent).active == "sweep-tab":
            builders = self.query(SweepBuilder)
            return builders.first().write() if builders else False
        return self.save_task()

    def save_task(self) -> bool:
        """Saves the task file: the form's touched fields, or the TOML as typed; refuses bad values."""
        area = self.query_one("#toml", TextArea)
        text = area.text
        forms = self.query(ConfigForm)
        if self.query_one(TabbedContent).active == "form-tab" and forms:
            try:
                text = apply_changes(text, forms.first().changed_values())
            except ValueError as error:
                self.notice(f"not saved: {error}", error=True)
                return False
        if problem := check_text(text, self.fields):
            self.notice(f"not saved: {problem}", error=True)
            return False
        save_atomic(self.path, text)
        self.text = text
        if area.text != text:
            area.load_text(text)
        kept = []
        if forms:
            form = forms.first()
            form.reload(flatten(tomlkit.parse(text)), keep_touched=self.query_one(TabbedContent).active != "form-tab")
            kept = form.touched()
        note = f" · unsaved form edits kept: {', '.join(kept)}" if kept else ""
        self.notice(f"saved {self.path}{note}")
        return True

    def action_reset_field(self) -> None:
        """Puts the focused form field back to its default (saving then removes it from the file)."""
        forms = self.query(ConfigForm)
        row = forms.first().focused_row() if forms else None
        if row is None:
            self.notice("ctrl+r resets the focused field of the Form tab: focus one first", error=True)
            return
        self.notice(row.reset())
        forms.first().refresh_titles()

    def action_search_fields(self) -> None:
        """Focuses the form's search box."""
        self.query_one(ConfigForm).query_one("#form-search").focus()

    def action_launch(self) -> None:
        """Saves, then opens the launch screen; on the sweep tab, writes the sweep file and starts the sweep."""
        if self.query_one(TabbedContent).active == "sweep-tab":
            builders = self.query(SweepBuilder)
            if builders and builders.first().write():
                self._start_sweep(builders.first())
            return
        if self.save_task():
            self.post_message(OpenLaunchRequested(self.path))

    @work(thread=True, exclusive=True, group="sweep-launch")
    def _start_sweep(self, builder: SweepBuilder) -> None:
        """Starts ``xaxengine sweep`` on the written file (off the UI thread) and opens its sweep view."""
        assert builder.written is not None  # write() just succeeded
        self.app.call_from_thread(builder.say, f"starting the sweep: xaxengine sweep {builder.written} ...")
        try:
            sweep_dir = launch_sweep(builder.written, self.app.runs_dir)  # ty: ignore[missing-attribute]
        except SweepLaunchError as error:
            self.app.call_from_thread(builder.say, f"sweep not started: {error}", True)
            return
        self.app.call_from_thread(builder.say, f"sweep started: {sweep_dir}")
        self.post_message(OpenSweepRequested(sweep_dir))

    def action_back(self) -> None:
        """Goes back (to the picker when this is the first screen)."""
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.post_message(ShowRunsRequested())
