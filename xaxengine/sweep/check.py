"""``python -m xaxengine.sweep.check SWEEP_FILE [TASK_FILE]``: checks a search space against the task's config.

Building a task config imports the task module, and so jax; the driver stays jax-free by running this in a
subprocess once, before the first trial. It builds the base config with the sweep's overrides, then once per probe
value of every param (both ends of a range, every choice; a conditional param with its condition met), and prints
one JSON line: ``{"ok": true, "task_dir": ...}`` or ``{"ok": false, "error": "one line"}`` (exit 2). The full
combination a trial samples is checked again by its engine before the run directory exists.
"""

import sys
from pathlib import Path

import orjson

from xaxengine.config import ConfigError, did_you_mean, load_run_spec
from xaxengine.runs import task_dir_name
from xaxengine.sweep.spec import Param, SweepSpec, load_sweep, toml_value


def check_space(spec: SweepSpec) -> str:
    """Checks every param of the sweep against its task's config; returns the task's run folder name.

    Raises:
        ConfigError: One line naming the sweep file's line and the param (unknown field with a did-you-mean, or a
            value the field does not accept).
    """
    try:
        base = load_run_spec(spec.task_path, spec.file.overrides)
    except ConfigError as error:
        raise ConfigError(f"{spec.where(key='overrides')}base task with the sweep's overrides: {error}") from None
    from xaxengine.config import config_schema

    fields = [entry["name"] for entry in config_schema(type(base.config))]
    for param in spec.params:
        if param.name not in fields:
            raise ConfigError(
                f"{spec.where(param)}params {param.name!r}: the task has no field {param.name!r}"
                f"{did_you_mean(param.name, fields)}"
            )
        condition = _condition_overrides(spec, param)
        for value in param.probe_values():
            override = f"{param.name}={toml_value(value)}"
            try:
                load_run_spec(spec.task_path, [*spec.file.overrides, *condition, override])
            except ConfigError as error:
                raise ConfigError(f"{spec.where(param)}params {param.name!r}: {error}") from None
    return task_dir_name(base.task_cls.__name__)


def _condition_overrides(spec: SweepSpec, param: Param) -> list[str]:
    """Overrides that meet ``param``'s ``when`` (the first allowed value of each named param)."""
    return [f"{name}={toml_value(allowed[0])}" for name, allowed in param.when if allowed]


def main(argv: list[str]) -> int:
    """Checks the sweep file ``argv[0]`` (its base task is ``argv[1]`` when given); prints one JSON line."""
    try:
        spec = load_sweep(argv[0], Path(argv[1]) if len(argv) > 1 else None)
        task_dir = check_space(spec)
    except ConfigError as error:
        sys.stdout.buffer.write(orjson.dumps({"ok": False, "error": str(error)}) + b"\n")
        return 2
    sys.stdout.buffer.write(orjson.dumps({"ok": True, "task_dir": task_dir}) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
