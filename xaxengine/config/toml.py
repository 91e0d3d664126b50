"""TOML files and dotted overrides: reading with file:line errors, applying ``KEY=VALUE``, writing atomically."""

import copy
import dataclasses
import datetime
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import tomli_w

from xaxengine.config.fields import ConfigError
from xaxengine.files import atomic_write

MAX_DEPTH = 32  # tables in a task file, and dotted parts of an override key

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER_RE = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN_RE = re.compile(rf"^\s*({_DOTTED})\s*=")
_KEY_PART_RE = re.compile(_KEY)
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_POS_RE = re.compile(r"^(.*) \(at (?:line (\d+), column (\d+)|end of document)\)$", re.DOTALL)


def _toml_error(source: str, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    match = _TOML_POS_RE.match(str(exc))
    if match is None:
        return ConfigError(f"{source}: invalid TOML: {exc}")
    reason, line, col = match.groups()
    if line is None:
        lines = text.split("\n")
        line, col = str(len(lines)), str(len(lines[-1]) + 1)
    return ConfigError(f"{source}:{line}:{col}: invalid TOML: {reason}")


def _read_toml(path: str | Path) -> tuple[str, dict[str, Any]]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, not a TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _toml_error(source, text, e) from None
    except RecursionError:
        raise ConfigError(f"{source}: values nested too deeply to parse") from None
    if (depth := _depth(data)) > MAX_DEPTH:
        raise ConfigError(f"{source}: tables nested {depth} deep; a task file has at most {MAX_DEPTH} levels")
    return text, data


def _depth(data: Mapping[str, Any]) -> int:
    """How deeply tables and arrays nest in ``data`` (iteratively: a hostile file must not hit the recursion limit)."""
    deepest, pending = 0, [(data, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, Mapping) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, Mapping | list))
    return deepest


def load_toml(path: str | Path) -> dict:
    """Reads a TOML file.

    Raises:
        ConfigError: The file is missing, a directory, unreadable, or not valid TOML (with line and column).
    """
    return _read_toml(path)[1]


def _split_override(override: str) -> tuple[list[str], str]:
    key, sep, raw = override.partition("=")
    parts = [p.strip() for p in key.split(".")]
    if len(parts) > MAX_DEPTH:
        raise ConfigError(f"override {override[:40]!r}...: a key has at most {MAX_DEPTH} dotted parts")
    if not sep or not key.strip():
        raise ConfigError(f"override {override!r}: expected KEY=VALUE")
    if not all(_BARE_KEY_RE.match(p) for p in parts):
        raise ConfigError(f"override {override!r}: bad key {key.strip()!r} (expected dotted names like 'a.b.c')")
    return parts, raw


def _parse_value(raw: str) -> Any:
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw.strip()
    except RecursionError:
        raise ConfigError(f"override value {raw[:40]!r}...: nested too deeply") from None
    if isinstance(value, list | dict) and _depth({"v": value}) > MAX_DEPTH:
        raise ConfigError(f"override value {raw[:40]!r}...: nested more than {MAX_DEPTH} levels")
    if isinstance(value, datetime.date | datetime.time):
        return raw.strip()
    return value


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Applies dotted ``KEY=VALUE`` overrides, in order, to a copy of ``data``.

    Args:
        data: The nested config data; left unchanged.
        overrides: Strings like ``optimizer.lr=3e-4``; each value is parsed as a TOML value (``true``, ``[1, 2]``,
            ``"s"``), else taken as a plain string.

    Returns:
        The new nested dict.

    Raises:
        ConfigError: An override is not of the form ``KEY=VALUE``.
    """
    result = copy.deepcopy(dict(data))
    for override in overrides:
        parts, raw = _split_override(override)
        node = result
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = _parse_value(raw)
    return result


def _key_lines(text: str) -> dict[str, int]:
    """Maps each dotted key and table header in TOML text to the line where it first appears."""
    lines: dict[str, int] = {}
    table: list[str] = []
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        was_multiline = in_multiline
        if (line.count('"""') + line.count("'''")) % 2 == 1:
            in_multiline = not in_multiline
        if was_multiline:
            continue
        if header := _HEADER_RE.match(line):
            table = _key_parts(header.group(1))
            lines.setdefault(".".join(table), number)
        elif assign := _ASSIGN_RE.match(line):
            lines.setdefault(".".join([*table, *_key_parts(assign.group(1))]), number)
    return lines


def key_line(text: str, dotted: str) -> int | None:
    """The line where a dotted key (or table header) first appears in TOML text, for ``file:line`` errors."""
    return _key_lines(text).get(dotted)


def read_toml_text(path: str | Path) -> tuple[str, dict[str, Any]]:
    """Reads a TOML file and returns its text and data; errors as :func:`load_toml` (the text names lines later)."""
    return _read_toml(path)


def _key_parts(dotted: str) -> list[str]:
    return [p[1:-1] if p[:1] in "\"'" else p for p in _KEY_PART_RE.findall(dotted)]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(v) for f in dataclasses.fields(value) if (v := getattr(value, f.name)) is not None}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    return value


def config_to_dict(cfg: Any) -> dict:
    """Turns a config dataclass into nested plain data for TOML: ``None`` values are dropped, tuples become lists."""
    return _plain(cfg)


def save_toml(cfg: Any, path: str | Path) -> None:
    """Writes a config (dataclass or dict) as TOML, atomically.

    Args:
        cfg: A config dataclass instance or a nested dict.
        path: The destination file; written through a temporary file in the same folder and ``os.replace``.
    """
    atomic_write(path, tomli_w.dumps(_plain(cfg)))
