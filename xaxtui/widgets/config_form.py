"""A form generated from ``xaxengine schema``: one input per field, its help below, types checked live."""

from typing import Any

import orjson
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static

_SCALARS = {"int": int, "float": float, "str": str}


def parse_value(type_name: str, text: str) -> Any:
    """Parses what the user typed as a value of a schema ``type`` (``int``, ``list[float]``, ``int | None``...).

    Raises:
        ValueError: With a short reason when the text is not of that type.
    """
    text = text.strip()
    options = [t.strip() for t in type_name.split("|")]
    if "None" in options and text.lower() in ("", "none", "null"):
        return None
    options = [t for t in options if t != "None"] or ["str"]
    errors = []
    for option in options:
        try:
            return _parse_one(option, text)
        except ValueError as error:
            errors.append(str(error))
    raise ValueError(" or ".join(errors))


def _parse_one(type_name: str, text: str) -> Any:
    if type_name == "bool":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError("expected true or false")
    if type_name in ("int", "float"):
        try:
            return int(text) if type_name == "int" else float(text)
        except ValueError:
            raise ValueError(f"expected {type_name}") from None
    if type_name.startswith("list["):
        inner = type_name[5:-1]
        try:
            items = orjson.loads(text if text.startswith("[") else f"[{text}]")
        except orjson.JSONDecodeError:
            items = [part.strip() for part in text.split(",") if part.strip()]
        if not isinstance(items, list):
            raise ValueError(f"expected {type_name}")
        return [_parse_one(inner, str(item)) for item in items]
    if type_name == "str" or type_name not in _SCALARS:
        return text
    raise ValueError(f"expected {type_name}")


def format_value(value: Any) -> str:
    """How a TOML value is shown in an input."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    return str(value)


class TypeValidator(Validator):
    """Validates an input against a schema type."""

    def __init__(self, type_name: str) -> None:
        """Checks values of ``type_name``."""
        super().__init__()
        self.type_name = type_name

    def validate(self, value: str) -> ValidationResult:
        """Success when :func:`parse_value` accepts the text."""
        try:
            parse_value(self.type_name, value)
        except ValueError as error:
            return self.failure(str(error))
        return self.success()


class ConfigForm(VerticalScroll):
    """Inputs for every schema field, prefilled from the TOML document."""

    DEFAULT_CSS = """
    ConfigForm .field-name { margin-top: 1; text-style: bold; }
    ConfigForm .field-help { color: $text-muted; }
    ConfigForm .field-error { color: $error; height: auto; }
    ConfigForm Input { height: 3; }
    """

    def __init__(self, fields: list[dict[str, Any]], values: dict[str, Any], **kwargs: object) -> None:
        """Creates the form.

        Args:
            fields: The schema's ``fields``.
            values: Current values by dotted name (fields absent from the file show their default).
            **kwargs: Widget arguments.
        """
        super().__init__(**kwargs)  # ty: ignore[invalid-argument-type]
        self.fields = {f["name"]: f for f in fields}
        self.values = values
        self.shown = {name: format_value(values.get(name, spec.get("default"))) for name, spec in self.fields.items()}

    def compose(self) -> ComposeResult:
        """Name and type, input, help, error line per field."""
        for i, (name, spec) in enumerate(self.fields.items()):
            type_name = str(spec.get("type", "str"))
            choices = spec.get("choices")
            yield Label(f"{name}  [dim]{type_name}[/]", classes="field-name")
            yield Input(self.shown[name], id=f"field-{i}", name=name, validators=[TypeValidator(type_name)])
            hint = str(spec.get("help") or "")
            if choices:
                hint += f" (one of: {', '.join(map(str, choices))})"
            yield Static(hint, classes="field-help", markup=False)
            yield Static("", id=f"error-{i}", classes="field-error")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Shows or clears the field's error as the user types."""
        if event.input.id and event.validation_result is not None:
            error = self.query_one(f"#error-{event.input.id.removeprefix('field-')}", Static)
            error.update("; ".join(event.validation_result.failure_descriptions))

    def touched(self) -> list[str]:
        """Fields whose text the user changed since the form last showed the file."""
        return [i.name for i in self.query(Input) if i.name and i.value != self.shown[i.name]]

    def changed_values(self) -> dict[str, Any]:
        """Parsed values of the fields the user touched (no other field is written back).

        Raises:
            ValueError: Naming the first touched field whose text does not parse.
        """
        out: dict[str, Any] = {}
        for field_input in self.query(Input):
            name = field_input.name or ""
            if field_input.value == self.shown[name]:
                continue
            spec = self.fields[name]
            try:
                value = parse_value(str(spec.get("type", "str")), field_input.value)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
            choices = spec.get("choices")
            if choices and value not in choices:
                raise ValueError(f"{name}: must be one of {', '.join(map(str, choices))}")
            out[name] = value
        return out

    def reload(self, values: dict[str, Any], keep_touched: bool = True) -> None:
        """Shows the file's values as saved; fields the user touched keep their text unless ``keep_touched`` is off.

        Args:
            values: The saved file's values by dotted name.
            keep_touched: Whether unsaved edits in the form survive (a save of the TOML tab); off after the form
                itself was saved.
        """
        self.values = values
        for field_input in self.query(Input):
            name = field_input.name or ""
            text = format_value(values.get(name, self.fields[name].get("default")))
            if not keep_touched or field_input.value == self.shown[name]:
                field_input.value = text
            self.shown[name] = text
