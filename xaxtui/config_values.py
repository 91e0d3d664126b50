"""Config values as the form shows them: text to a value of a schema type, a value to text, choices and bounds.

The schema comes from ``xaxengine schema`` (a subprocess), so the TUI knows each field's ``type``, ``choices`` and
numeric bounds (``ge``/``gt``/``le``/``lt``) without importing the engine's config classes or jax.
"""

from typing import Any

import orjson

_SCALARS = {"int": int, "float": float, "str": str}
_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
_UNSAID = 2**53  # a bound this large only says "an int that JSON keeps exact"


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
    if type_name == "dict":
        try:
            table = orjson.loads(text or "{}")
        except orjson.JSONDecodeError:
            table = None
        if not isinstance(table, dict):
            raise ValueError('expected a table, e.g. {"key": 1}')
        return table
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
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return str(value)


def value_problem(spec: dict[str, Any], value: Any) -> str:
    """Why a parsed value breaks its field's choices or bounds (one short line), or ``""`` when it is allowed."""
    choices = spec.get("choices")
    if choices and value not in choices:
        return f"must be one of {', '.join(map(str, choices))}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    for key, sign in _BOUNDS:
        bound = spec.get(key)
        if bound is not None and not _holds(value, key, bound):
            return f"must be {sign} {_number(bound)}"
    return ""


def _number(bound: float) -> str:
    """A bound as short as it reads: ``0``, ``1``, ``1e+09``, ``4294967296``."""
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _holds(value: float, key: str, bound: float) -> bool:
    if key == "ge":
        return value >= bound
    if key == "gt":
        return value > bound
    return value <= bound if key == "le" else value < bound


def check_text(spec: dict[str, Any], text: str) -> Any:
    """The value of a field's text, checked against its type, choices and bounds.

    Raises:
        ValueError: With a one-line reason (``expected int``, ``must be >= 0``).
    """
    value = parse_value(str(spec.get("type", "str")), text)
    if value is not None and (problem := value_problem(spec, value)):
        raise ValueError(problem)
    return value


def bounds_hint(spec: dict[str, Any]) -> str:
    """The field's bounds as a short hint (``>= 0, < 1``), ``""`` when it has none (2**53 and beyond go unsaid)."""
    shown = [(key, sign) for key, sign in _BOUNDS if spec.get(key) is not None and abs(spec[key]) < _UNSAID]
    return ", ".join(f"{sign} {_number(spec[key])}" for key, sign in shown)


def matches(spec: dict[str, Any], query: str) -> bool:
    """Whether every word of ``query`` occurs in the field's dotted name or help text (case-insensitive)."""
    haystack = f"{spec.get('name', '')} {spec.get('help') or ''}".lower()
    return all(word in haystack for word in query.lower().split())
