"""``single_device``: the task runs in this process on JAX's default device."""

from typing import Any

from xaxengine.launch_config import RunOptions
from xaxengine.task.launchers.runnable import Runnable


def run_in_process(task_cls: Runnable, config: Any, options: RunOptions) -> int:
    """Builds the task and runs it here; the task places its state by ``config.launch`` (see ``mixins/sharding``).

    Args:
        task_cls: The task class.
        config: Its resolved config.
        options: Where events go, resume / init-from.

    Returns:
        The exit code.
    """
    return task_cls(config).run(options)
