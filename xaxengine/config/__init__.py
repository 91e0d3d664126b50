"""Typed task configs: dataclasses with ``field(help=...)``, TOML files, dotted CLI overrides and a field schema.

A config is a plain ``@dataclass(kw_only=True)`` class; nested dataclass fields are TOML tables. Every failure
raises :class:`ConfigError` with one line that names the file and line, or the override, and the dotted field.
No jax anywhere in this package: the CLI's read-only commands, the TUI and the sweep driver import it.

- :mod:`~xaxengine.config.fields`: ``field`` and ``ConfigError``.
- :mod:`~xaxengine.config.toml`: reading TOML, overrides, writing.
- :mod:`~xaxengine.config.build`: typed building, the schema, task specs.
- :mod:`~xaxengine.config.sections`: the engine's sections and :class:`~xaxengine.config.sections.Config` (import it
  from there; it is not re-exported here so that ``xaxengine.launch_config`` can use ``field`` without a cycle).
"""

from dataclasses import MISSING

from xaxengine.config.build import (
    RunSpec,
    build_config,
    config_schema,
    config_sections,
    import_object,
    load_run_spec,
)
from xaxengine.config.fields import ConfigError, did_you_mean, field
from xaxengine.config.toml import apply_overrides, config_to_dict, key_line, load_toml, read_toml_text, save_toml

__all__ = [
    "MISSING",
    "ConfigError",
    "RunSpec",
    "apply_overrides",
    "build_config",
    "config_schema",
    "config_sections",
    "config_to_dict",
    "did_you_mean",
    "field",
    "import_object",
    "key_line",
    "load_run_spec",
    "load_toml",
    "read_toml_text",
    "save_toml",
]
