"""Editing task TOML files without losing the user's comments and order (tomlkit), saved atomically."""

from pathlib import Path
from typing import Any, Final

import tomlkit
from tomlkit.items import Item

from xaxengine import dotted
from xaxengine.files import atomic_write

REMOVE: Final = object()
"""A change that deletes the key, so the field takes its default again (``None`` does too: TOML has no null)."""


def flatten(doc: Any) -> dict[str, Any]:
    """Dotted names to plain values: ``{"train": {"max_steps": 5}}`` -> ``{"train.max_steps": 5}``."""
    return {name: value.unwrap() if isinstance(value, Item) else value for name, value in dotted.flatten(doc).items()}


def apply_changes(text: str, changes: dict[str, Any]) -> str:
    """Sets (or, for :data:`REMOVE` and ``None``, deletes) dotted fields in a TOML text, keeping everything else.

    Comments, order and formatting of the keys not named stay as they were; a deleted key's line goes with its
    comment, and a table it leaves empty stays (its header may carry the user's comment).
    """
    doc = tomlkit.parse(text)
    for name, value in changes.items():
        *sections, key = name.split(".")
        table: Any = doc
        removing = value is None or value is REMOVE
        for section in sections:
            if section not in table:
                if removing:
                    break
                table[section] = tomlkit.table()
            table = table[section]
        else:
            if removing:
                table.pop(key, None)
            else:
                table[key] = value
    return tomlkit.dumps(doc)


def save_atomic(path: str | Path, text: str) -> None:
    """Writes a file whole or not at all (the engine's atomic write), keeping the permissions of the one it replaces."""
    atomic_write(path, text)
