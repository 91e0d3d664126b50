"""``multi_process``: engine processes joined by ``jax.distributed``, data parallel over every device of the job.

Two roles:

- **Launcher** (no cluster in the environment): picks a free loopback port and starts ``launch.num_processes``
  children with ``XAX_COORDINATOR_ADDRESS`` / ``XAX_NUM_PROCESSES`` / ``XAX_PROCESS_ID`` and
  ``launch.num_devices`` CPU devices each. Rank 0 inherits stdout (the event pipe with ``--events -``); the other
  ranks' output goes to stderr. If a rank dies, the launcher stops the others and appends ``status: failed`` naming
  the rank.
- **Rank** (a cluster in the environment: ``XAX_*``, Slurm's ``SLURM_*``, or ``launch.process_id``): calls
  ``jax.distributed.initialize`` and trains. Every rank computes, checkpoints (Orbax saves are collective) and
  agrees on stops; only rank 0 holds the lock and writes ``config.toml`` and events.

Stats side channel: see :mod:`xaxengine.rank_stats`.
"""

import logging
import os
import shutil
import sys
from typing import Any

from xaxengine.launch_config import RunOptions
from xaxengine.task.launchers.base import (
    COORDINATOR_ENV,
    NUM_PROCESSES_ENV,
    PROCESS_ID_ENV,
    ClusterEnv,
    check_batch,
    cluster_from_env,
    cpu_device_env,
    devices_per_process,
    free_port,
)
from xaxengine.task.launchers.child import (
    INTERRUPTED,
    describe_exit,
    freeze_run,
    mark_failed,
    plan_children,
    start_child,
    supervise,
)
from xaxengine.task.launchers.runnable import Runnable
from xaxengine.task.launchers.single_device import run_in_process


def run_multi_process(task_cls: Runnable, config: Any, options: RunOptions) -> int:
    """Joins the cluster described by the environment, or launches one on this host.

    Raises:
        ConfigError: Inconsistent cluster variables, or a batch size the job's device count does not divide.
    """
    cluster = cluster_from_env(config.launch)
    if cluster is not None:
        return _run_rank(task_cls, config, options, cluster)
    launch = config.launch
    num_devices = devices_per_process(launch)
    check_batch(config.data.batch_size, launch.num_processes * num_devices, "launch.layout=multi_process")
    run_dir = freeze_run(task_cls, config, options)
    plan = plan_children(task_cls, config, options)
    address = f"127.0.0.1:{free_port()}"
    procs = []
    try:
        for rank in range(launch.num_processes):
            env = cpu_device_env(num_devices, plan.env)
            env.update({COORDINATOR_ENV: address, NUM_PROCESSES_ENV: str(launch.num_processes)})
            env[PROCESS_ID_ENV] = str(rank)
            procs.append(start_child(plan.argv, env, stdout=None if rank == 0 else sys.stderr))

        def failed(rank: int, code: int) -> None:
            if rank == 0 and code in (1, 2):
                return  # rank 0 reported its own failure (status event, stderr line)
            what = "died" if code < 0 else "failed"
            reason = f"rank {rank} {what} ({describe_exit(code)}); stopped the other ranks"
            mark_failed(run_dir, reason, options.events_to_stdout)

        return supervise(procs, failed)
    finally:
        shutil.rmtree(plan.folder, ignore_errors=True)


def _run_rank(task_cls: Runnable, config: Any, options: RunOptions, cluster: ClusterEnv) -> int:
    import jax

    jax.distributed.initialize(
        coordinator_address=cluster.coordinator_address,
        num_processes=cluster.num_processes,
        process_id=cluster.process_id,
    )
    if not config.artifacts.run_id and options.resume_dir is None:
        config.artifacts.run_id = _shared_run_id()
    if options.events_to_stdout:
        _keep_stdout_for_events()
    code = 1
    try:
        code = run_in_process(task_cls, config, options)
        return code
    finally:
        if code in (0, *INTERRUPTED):
            jax.distributed.shutdown()
        else:
            # The shutdown barrier waits minutes for the other ranks, which may be blocked in a collective this rank
            # never reaches: leave now so that the launcher (or srun) sees the failure and stops them.
            sys.stdout.flush()
            sys.stderr.flush()
            logging.shutdown()
            os._exit(code)


def _shared_run_id() -> str:
    """A new run id chosen by rank 0 and broadcast to every rank (all must write the same run directory)."""
    import numpy as np
    from jax.experimental import multihost_utils

    from xaxengine.runs import new_run_id

    mine = np.frombuffer(new_run_id().encode().ljust(32), dtype=np.uint8)
    chosen = np.asarray(multihost_utils.broadcast_one_to_all(mine), dtype=np.uint8)
    return chosen.tobytes().decode().strip()


def _keep_stdout_for_events() -> None:
    """Moves native writes to fd 1 (gloo's connection notes) to stderr; Python's stdout keeps the event pipe."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(events_fd, "w", buffering=1)
