"""One field of the config form: a marker (set in the file, default, edited), its editor, help and live error.

The editor follows the schema: a ``Select`` for fields with choices (``Literal``), a ``Switch`` for bools, an
``Input`` validated as you type (type, choices and the engine's bounds) for the rest. A value the widget cannot
show (a bool field holding ``"yes"``) falls back to an ``Input``, so the file's text is never hidden.
"""

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Select, Static, Switch

from xaxtui.config_values import bounds_hint, check_text, format_value, parse_value
from xaxtui.tomledit import REMOVE

MARKERS = {
    "set": ("●", "set"),
    "default": ("○", "default"),
    "edited": ("✎", "edited"),
    "reset": ("↺", "reset"),
}
"""Each state's marker and word: set in the file, its default, edited but not saved, reset but not saved."""


class FieldValidator(Validator):
    """Validates an input against a schema field: its type, choices and bounds."""

    def __init__(self, spec: dict[str, Any]) -> None:
        """Checks values of the field ``spec`` (a row of ``xaxengine schema``)."""
        super().__init__()
        self.spec = spec

    def validate(self, value: str) -> ValidationResult:
        """Success when :func:`check_text` accepts the text."""
        try:
            check_text(self.spec, value)
        except ValueError as error:
            return self.failure(str(error))
        return self.success()


def _has_default(spec: dict[str, Any]) -> bool:
    return spec.get("default") is not None or "None" in str(spec.get("type", ""))


class FieldRow(Vertical):
    """A field's line (marker and name, editor), its type and help, and its error line (shown when there is one)."""

    DEFAULT_CSS = """
    FieldRow { height: auto; }
    FieldRow .field-line { height: 1; }
    FieldRow .field-name { width: 28; text-wrap: nowrap; text-overflow: ellipsis; }
    FieldRow .field-name.-set { color: $text; text-style: bold; }
    FieldRow .field-name.-default { color: $text-muted; }
    FieldRow .field-name.-edited, FieldRow .field-name.-reset { color: $text-warning; text-style: bold; }
    FieldRow Input { width: 1fr; max-width: 48; }
    FieldRow Input.-invalid { background-tint: $error 40%; }
    FieldRow Select { width: 1fr; max-width: 48; }
    FieldRow Switch { width: auto; height: 1; border: none; padding: 0 1; }
    FieldRow Switch:focus { border: none; background-tint: $foreground 15%; }
    FieldRow .field-help { color: $text-muted; padding-left: 2; text-wrap: nowrap; text-overflow: ellipsis; }
    FieldRow:focus-within .field-help { text-wrap: wrap; }
    FieldRow .field-error { color: $text-error; padding-left: 2; display: none; }
    FieldRow .field-error.-shown { display: block; }
    """

    def __init__(self, spec: dict[str, Any], index: int, values: dict[str, Any]) -> None:
        """A row for one field.

        Args:
            spec: The field's schema row (``name``, ``type``, ``default``, ``help``, ``choices``, bounds).
            index: Its position in the schema (widget ids ``field-N`` and ``error-N``).
            values: The saved file's values by dotted name.
        """
        super().__init__(id=f"row-{index}")
        self.spec = spec
        self.field_name = str(spec["name"])
        self.index = index
        self.type_name = str(spec.get("type", "str"))
        self.in_file = self.field_name in values
        self.default_text = format_value(spec.get("default"))
        self.shown = format_value(values.get(self.field_name, spec.get("default")))
        self.reset_pending = False
        self.kind = self._kind(values.get(self.field_name, spec.get("default")))
        self.editor: Widget | None = None  # built in compose: a closed section's rows cost nothing until it opens
        self._drawn: tuple[str, str] | None = None  # the (state, error) the row shows

    def _kind(self, value: Any) -> str:
        choices = self.spec.get("choices")
        if choices and value in choices and all(isinstance(c, str | int | float) for c in choices):
            return "select"
        if self.type_name == "bool" and isinstance(value, bool):
            return "switch"
        return "input"

    def compose(self) -> ComposeResult:
        """The field's line, help and error line."""
        self.editor = self._editor()
        with Horizontal(classes="field-line"):
            yield Static("", classes="field-name")
            yield self.editor
        hint = [self.type_name, str(self.spec.get("help") or "")]
        if bounds := bounds_hint(self.spec):
            hint.append(f"({bounds})")
        if self.kind == "input" and (choices := self.spec.get("choices")):
            hint.append(f"(one of: {', '.join(map(str, choices))})")
        if _has_default(self.spec):
            hint.append(f"default {self.default_text or 'none'}")
        yield Static(" · ".join(h for h in hint if h), classes="field-help", markup=False)
        yield Static("", id=f"error-{self.index}", classes="field-error", markup=False)

    def _editor(self) -> Widget:
        ident, name = f"field-{self.index}", self.field_name
        if self.kind == "select":
            options = [(format_value(c), c) for c in self.spec["choices"]]
            value = parse_value(self.type_name, self.shown)
            return Select(options, value=value, allow_blank=False, compact=True, id=ident, name=name)
        if self.kind == "switch":
            return Switch(self.shown == "true", id=ident, name=name)
        return Input(self.shown, compact=True, id=ident, name=name, validators=[FieldValidator(self.spec)])

    def on_mount(self) -> None:
        """Shows the marker of the file's state."""
        self.refresh_marker()

    def text(self) -> str:
        """The editor's value as text (what an input would hold); the saved text while there is no editor yet."""
        editor = self.editor
        if editor is None:
            return self.shown
        if isinstance(editor, Select):
            return self.shown if editor.is_blank() else format_value(editor.value)
        if isinstance(editor, Switch):
            return format_value(editor.value)
        assert isinstance(editor, Input)
        return editor.value

    def set_text(self, text: str) -> None:
        """Puts ``text`` in the editor (a select or switch takes it only when it is one of its values)."""
        editor = self.editor
        if editor is None:
            return
        if isinstance(editor, Input):
            editor.value = text
            return
        try:
            value = parse_value(self.type_name, text)
        except ValueError:
            return
        if isinstance(editor, Select):
            if value in (self.spec.get("choices") or ()):
                editor.value = value
        elif isinstance(editor, Switch) and isinstance(value, bool):
            editor.value = value

    def state(self) -> str:
        """``set``, ``default``, ``edited`` or ``reset`` (the marker's key)."""
        if self.reset_pending and self.in_file and self.text() == self.default_text:
            return "reset"
        if self.text() != self.shown:
            return "edited"
        return "set" if self.in_file else "default"

    def touched(self) -> bool:
        """Whether saving the form would write (or remove) this field."""
        return self.state() in ("edited", "reset")

    def change(self) -> Any:
        """The value to write: the parsed text, or :data:`REMOVE` after a reset.

        Raises:
            ValueError: ``name: reason`` when the text does not parse or breaks the field's choices or bounds.
        """
        if self.state() == "reset":
            return REMOVE
        try:
            return check_text(self.spec, self.text())
        except ValueError as error:
            raise ValueError(f"{self.field_name}: {error}") from None

    def reset(self) -> str:
        """Puts the default back; saving then removes the key from the file. Returns a one-line note."""
        if not _has_default(self.spec):
            return f"{self.field_name} has no default: the task needs it set"
        self.reset_pending = self.in_file
        self.set_text(self.default_text)
        self.refresh_marker()
        shown = self.default_text or "none"
        if self.in_file:
            return f"{self.field_name} reset to its default {shown} · ctrl+s removes it from the file"
        return f"{self.field_name} is back to its default {shown}"

    def reload(self, values: dict[str, Any], keep_touched: bool) -> None:
        """Shows the saved file's value; an edit survives only with ``keep_touched`` (a save of the TOML tab)."""
        was_touched = self.touched()
        self.in_file = self.field_name in values
        text = format_value(values.get(self.field_name, self.spec.get("default")))
        if not keep_touched or not was_touched:
            self.reset_pending = False
            self.set_text(text)
        self.shown = text
        self.refresh_marker()

    def refresh_marker(self) -> None:
        """Updates the marker, the name's style and the error line (only what changed: rows are many)."""
        state = self.state()
        problem = ""
        try:
            check_text(self.spec, self.text())
        except ValueError as error:
            problem = str(error)
        labels = self.query(".field-name").results(Static)
        label = next(labels, None)
        if label is None or (state, problem) == self._drawn:  # not mounted yet (a closed section), or as drawn
            return
        self._drawn = (state, problem)
        label.update(Text(f"{MARKERS[state][0]} {self.field_name.rpartition('.')[2]}"))
        label.set_classes(f"field-name -{state}")
        error_line = self.query_one(f"#error-{self.index}", Static)
        error_line.update(problem)
        error_line.set_class(bool(problem), "-shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Re-checks the field as the user types."""
        self._edited(event.input)

    def on_select_changed(self, event: Select.Changed) -> None:
        """Marks a changed choice."""
        self._edited(event.select)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        """Marks a flipped switch."""
        self._edited(event.switch)

    def _edited(self, editor: Widget) -> None:
        if editor is self.editor:
            if self.text() != self.default_text:
                self.reset_pending = False
            self.refresh_marker()
