"""Launchers: run a task under its ``[launch] layout``; one launcher per layout, in :data:`LAUNCHERS`.

A launcher sees the task only through :class:`Runnable` (a class built from a config whose instances train with
``run(options)``), so this package imports neither the task nor its mixins, and no launcher imports jax at import
time (the ones that start child processes never start a JAX backend in the parent).
"""

from collections.abc import Callable
from typing import Any

from xaxengine.launch_config import LAYOUTS, RunOptions
from xaxengine.task.launchers.multi_cpu import run_multi_cpu
from xaxengine.task.launchers.multi_device import run_multi_device
from xaxengine.task.launchers.multi_process import run_multi_process
from xaxengine.task.launchers.runnable import Runnable
from xaxengine.task.launchers.single_device import run_in_process

LAUNCHERS: dict[str, Callable[[Runnable, Any, RunOptions], int]] = {
    "single_device": run_in_process,
    "multi_device": run_multi_device,
    "multi_cpu": run_multi_cpu,
    "multi_process": run_multi_process,
}
assert set(LAUNCHERS) == set(LAYOUTS), "every layout in launch_config.LAYOUTS needs a launcher"


def launch(task_cls: Runnable, config: Any, options: RunOptions) -> int:
    """Runs ``task_cls(config)`` under ``config.launch.layout``; returns the exit code.

    Raises:
        ConfigError: A layout the config cannot run (batch size vs devices, bad cluster environment).
    """
    return LAUNCHERS[config.launch.layout](task_cls, config, options)
