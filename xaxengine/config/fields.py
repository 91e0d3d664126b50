"""Declaring config fields: ``field(default, help=...)``, and the one-line :class:`ConfigError`."""

import copy
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import MISSING
from typing import Any

_NEWLINES_RE = re.compile(r"\s*[\r\n]+\s*")


class ConfigError(Exception):
    """A bad config, TOML file, override or task spec; ``str(e)`` is always a single line."""

    def __init__(self, message: str) -> None:
        super().__init__(_NEWLINES_RE.sub(" ", str(message)).strip())


def field(default: Any = MISSING, *, help: str, choices: Sequence[Any] | None = None) -> Any:
    """Declares a config field with its help text.

    Args:
        default: The default value; a dataclass type makes a nested section built from its defaults; list, dict,
            set and dataclass-instance defaults are copied per instance. Leave it out for a required field.
        help: One line shown by ``--help``, the schema and the TUI form.
        choices: The allowed values, if restricted.

    Returns:
        A ``dataclasses.field`` carrying ``{"help": ..., "choices": ...}`` metadata.
    """
    metadata = {"help": help, "choices": list(choices) if choices is not None else None}
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    if isinstance(default, list | dict | set) or dataclasses.is_dataclass(default):
        value = default
        return dataclasses.field(default_factory=lambda: copy.deepcopy(value), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
