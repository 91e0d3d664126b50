"""Editing task TOML files without losing the user's comments and order (tomlkit), saved atomically."""

import os
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import Table


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted names to plain values: ``{"train": {"max_steps": 5}}`` -> ``{"train.max_steps": 5}``."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict | Table | Container):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value.unwrap() if hasattr(value, "unwrap") else value
    return out


def apply_changes(text: str, changes: dict[str, Any]) -> str:
    """Sets dotted fields in a TOML text, keeping everything else (comments, order, formatting) as it was."""
    doc = tomlkit.parse(text)
    for name, value in changes.items():
        *sections, key = name.split(".")
        table: Any = doc
        for section in sections:
            if section not in table:
                table[section] = tomlkit.table()
            table = table[section]
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return tomlkit.dumps(doc)


def save_atomic(path: str | Path, text: str) -> None:
    """Writes a file via a temporary file in the same directory and ``os.replace`` (never half written)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
