"""``multi_cpu``: ``num_devices`` CPU devices in one engine process, data parallel over them.

JAX fixes the number of CPU devices when its backend starts, so this launcher never starts JAX: it re-runs the
engine in a child process with ``JAX_NUM_CPU_DEVICES=N`` in its environment, which then runs the ``multi_device``
placement over those N devices (``run_start.layout`` stays ``multi_cpu``). The child inherits stdout and stderr;
SIGINT/SIGTERM/SIGUSR1 are forwarded to it and its exit code is returned.
"""

import os
import shutil
from typing import Any

from xaxengine.launch_config import RunOptions
from xaxengine.task.launchers.base import CHILD_ENV, check_batch, cpu_device_env, devices_per_process
from xaxengine.task.launchers.child import describe_exit, freeze_run, mark_failed, plan_children, start_child, supervise
from xaxengine.task.launchers.runnable import Runnable
from xaxengine.task.launchers.single_device import run_in_process


def run_multi_cpu(task_cls: Runnable, config: Any, options: RunOptions) -> int:
    """In the launcher: starts the child and waits for it. In the child: trains.

    Raises:
        ConfigError: A batch size that ``launch.num_devices`` does not divide.
    """
    if os.environ.get(CHILD_ENV) == "1":
        return run_in_process(task_cls, config, options)
    num_devices = devices_per_process(config.launch)
    check_batch(config.data.batch_size, num_devices, "launch.layout=multi_cpu")
    run_dir = freeze_run(task_cls, config, options)
    plan = plan_children(task_cls, config, options)
    try:
        child = start_child(plan.argv, cpu_device_env(num_devices, plan.env))

        def failed(rank: int, code: int) -> None:
            del rank
            if code < 0:  # the engine could not report it: it was killed
                mark_failed(run_dir, f"engine process died ({describe_exit(code)})", options.events_to_stdout)

        return supervise([child], failed)
    finally:
        shutil.rmtree(plan.folder, ignore_errors=True)
