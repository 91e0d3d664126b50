"""``multi_device``: data parallel over a 1-D mesh of this process's devices, in this process.

The global batch (``data.batch_size``) is split evenly over the devices; params and optimizer state are replicated
(or FSDP-sharded with ``launch.fsdp``). The mesh itself is built by :func:`xaxengine.task.mixins.sharding.
make_placement` once the task runs; this launcher only checks what it can before JAX starts.
"""

from typing import Any

from xaxengine.config import ConfigError
from xaxengine.launch_config import RunOptions
from xaxengine.task.launchers.base import check_batch
from xaxengine.task.launchers.runnable import Runnable
from xaxengine.task.launchers.single_device import run_in_process


def run_multi_device(task_cls: Runnable, config: Any, options: RunOptions) -> int:
    """Runs the task here over ``launch.num_devices`` local devices (0 = all of them).

    Raises:
        ConfigError: More devices asked for than this process sees, or a batch size the device count does not divide.
    """
    import jax

    visible = len(jax.local_devices())
    wanted = config.launch.num_devices or visible
    if wanted > visible:
        raise ConfigError(
            f"launch.num_devices={wanted} but only {visible} devices are visible (launch.layout=multi_device)"
        )
    check_batch(config.data.batch_size, wanted, "launch.layout=multi_device")
    return run_in_process(task_cls, config, options)
