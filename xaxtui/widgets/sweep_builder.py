"""The config editor's sweep tab: turn a task's fields into ranges and write ``TASK.sweep.toml`` beside the task.

Pick a field, a distribution (``log_uniform``, ``uniform``, ``int``, ``choice``) and its bounds (``low, high``, or the
values of a choice), add it; set the objective, direction, budget and sampler; ``ctrl+s`` (or the button) writes the
file once the engine's sweep loader accepts it, and says so (or says the loader's one-line error).
"""

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from xaxengine.sweep.spec import toml_value
from xaxtui.sweep_draft import DIRECTIONS, RANGE_KINDS, SAMPLERS, SweepDraft, parse_range, suggest_range, write_draft
from xaxtui.widgets.tables import cursor_row_key


class SweepBuilder(Vertical):
    """Ranges over a task's fields, and the sweep's settings; :meth:`write` writes the sweep file."""

    DEFAULT_CSS = """
    SweepBuilder { height: 1fr; }
    SweepBuilder Horizontal { height: auto; }
    SweepBuilder Label { padding: 1 1 0 1; }
    SweepBuilder #sweep-field { width: 2fr; }
    SweepBuilder #sweep-dist { width: 18; }
    SweepBuilder #sweep-direction, SweepBuilder #sweep-sampler { width: 16; }
    SweepBuilder #sweep-bounds { width: 1fr; }
    SweepBuilder #sweep-objective { width: 1fr; min-width: 20; }
    SweepBuilder #sweep-trials, SweepBuilder #sweep-parallel { width: 9; }
    SweepBuilder #sweep-ranges { height: 1fr; min-height: 3; }
    SweepBuilder #sweep-message { height: auto; padding: 0 1; }
    """

    def __init__(self, task_path: Path, fields: list[dict[str, Any]], **kwargs: object) -> None:
        """Offers the schema's ``fields`` of the task in ``task_path``."""
        super().__init__(**kwargs)  # ty: ignore[invalid-argument-type]
        self.task_path = task_path
        self.fields = {str(f["name"]): f for f in fields}
        self.draft = SweepDraft()
        self.written: Path | None = None

    def compose(self) -> ComposeResult:
        """Field, distribution, bounds and add; the ranges; the settings; write; the message line."""
        with Horizontal():
            yield Select([(n, n) for n in self.fields], prompt="field", id="sweep-field")
            yield Select([(k, k) for k in RANGE_KINDS], value="log_uniform", allow_blank=False, id="sweep-dist")
            yield Input(placeholder="low, high  (choice: a, b, c)", id="sweep-bounds")
            yield Button("Add", id="sweep-add")
        yield DataTable(cursor_type="row", id="sweep-ranges")
        with Horizontal():
            yield Label("objective")
            yield Input("valid/loss", id="sweep-objective")
            yield Select([(d, d) for d in DIRECTIONS], value="minimize", allow_blank=False, id="sweep-direction")
            yield Label("trials")
            yield Input("20", type="integer", id="sweep-trials")
            yield Label("parallel")
            yield Input("1", type="integer", id="sweep-parallel")
            yield Select([(s, s) for s in SAMPLERS], value="tpe", allow_blank=False, id="sweep-sampler")
        with Horizontal():
            yield Button("Remove range", id="sweep-remove")
            yield Button(f"Write {self.task_path.name.removesuffix('.toml')}.sweep.toml", id="sweep-write")
        yield Static("", id="sweep-message")

    def on_mount(self) -> None:
        """Sets up the ranges table."""
        self.query_one("#sweep-ranges", DataTable).add_columns("field", "distribution", "values")

    @on(Select.Changed, "#sweep-field")
    def _field_picked(self, event: Select.Changed) -> None:
        """Suggests a range around the field's value."""
        spec = self.fields.get(str(event.value))
        if spec is None:
            return
        kind, bounds = suggest_range(spec)
        self.query_one("#sweep-dist", Select).value = kind
        self.query_one("#sweep-bounds", Input).value = bounds

    @on(Button.Pressed, "#sweep-add")
    @on(Input.Submitted, "#sweep-bounds")
    def add_range(self) -> bool:
        """Adds (or replaces) the range of the picked field; says why not when the bounds do not parse."""
        name = self.query_one("#sweep-field", Select).value
        if not isinstance(name, str):
            return self.say("pick a field first", error=True)
        kind = str(self.query_one("#sweep-dist", Select).value)
        try:
            values = parse_range(kind, self.query_one("#sweep-bounds", Input).value)
        except ValueError as error:
            return self.say(f"{name}: {error}", error=True)
        self.draft.ranges[name] = (kind, values)
        self._show_ranges()
        return self.say(f"{name}: {kind} {toml_value(values)} · ctrl+s writes the sweep file")

    @on(Button.Pressed, "#sweep-remove")
    def remove_range(self) -> None:
        """Drops the range under the table's cursor."""
        key = cursor_row_key(self.query_one("#sweep-ranges", DataTable))
        if key is not None and self.draft.ranges.pop(key, None) is not None:
            self._show_ranges()
            self.say(f"{key}: removed")

    def _show_ranges(self) -> None:
        table = self.query_one("#sweep-ranges", DataTable)
        table.clear()
        for name, (kind, values) in self.draft.ranges.items():
            table.add_row(name, kind, toml_value(values), key=name)

    @on(Button.Pressed, "#sweep-write")
    def write(self) -> bool:
        """Writes the sweep file beside the task once the engine's loader accepts it; returns whether it did."""
        try:
            trials, parallel = (int(self.query_one(f"#sweep-{k}", Input).value) for k in ("trials", "parallel"))
        except ValueError:
            return self.say("not written: trials and parallel must be whole numbers", error=True)
        self.draft.settings = {
            "objective": self.query_one("#sweep-objective", Input).value.strip(),
            "direction": str(self.query_one("#sweep-direction", Select).value),
            "trials": trials,
            "parallel": parallel,
            "sampler": str(self.query_one("#sweep-sampler", Select).value),
        }
        try:
            path, spec = write_draft(self.task_path, self.draft)
        except ValueError as error:
            return self.say(f"not written: {error}", error=True)
        self.written = path
        return self.say(f"wrote {path} ({len(spec.params)} params) · ctrl+l starts it (or: xaxengine sweep {path})")

    def say(self, text: str, error: bool = False) -> bool:
        """Shows one line under the tab; returns ``not error``."""
        self.query_one("#sweep-message", Static).update(Text(text, style="red" if error else "green"))
        return not error
