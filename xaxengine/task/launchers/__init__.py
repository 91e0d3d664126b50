"""Launchers: run a task under its ``[launch] layout`` (see ``base.py`` for the layouts)."""

from typing import Any

from xaxengine.launch_config import RunOptions


def launch(task_cls: Any, config: Any, options: RunOptions) -> int:
    """Runs ``task_cls(config)`` under ``config.launch.layout``; returns the exit code.

    Raises:
        ConfigError: A layout the config cannot run (batch size vs devices, bad cluster environment).
    """
    layout = config.launch.layout
    if layout == "multi_device":
        from xaxengine.task.launchers.multi_device import run_multi_device

        return run_multi_device(task_cls, config, options)
    if layout == "multi_cpu":
        from xaxengine.task.launchers.multi_cpu import run_multi_cpu

        return run_multi_cpu(task_cls, config, options)
    if layout == "multi_process":
        from xaxengine.task.launchers.multi_process import run_multi_process

        return run_multi_process(task_cls, config, options)
    from xaxengine.task.launchers.single_device import run_in_process

    return run_in_process(task_cls, config, options)
