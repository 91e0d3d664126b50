"""Dotted names for nested tables: ``{"train": {"max_steps": 5}}`` <-> ``{"train.max_steps": 5}`` (no jax)."""

from collections.abc import Mapping
from typing import Any


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Maps every leaf of nested mappings to its dotted name, in order (TOML documents are mappings too).

    Args:
        data: Nested mappings; any value that is not a mapping is a leaf.
        prefix: Prepended to every name (``"train."``).
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
