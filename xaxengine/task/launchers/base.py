"""What every launcher shares: the cluster environment, ports, device counts and child environments.

No jax here: the launchers that start subprocesses must not initialize a JAX backend in the parent, and the
``slurm`` subcommand must work on a login node without one.
The ``[launch]`` section and the layouts live in :mod:`xaxengine.launch_config`.
"""

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from xaxengine.config import ConfigError
from xaxengine.launch_config import LaunchConfig

CHILD_ENV = "XAX_LAUNCH_CHILD"  # set to "1" in a child a launcher started (it then runs in-process)
COORDINATOR_ENV = "XAX_COORDINATOR_ADDRESS"
NUM_PROCESSES_ENV = "XAX_NUM_PROCESSES"
PROCESS_ID_ENV = "XAX_PROCESS_ID"
DEFAULT_PORT = 12355  # Slurm jobs: every rank must agree on the port without talking first
SLURM_PORT_SPAN = 20000  # job ports lie in DEFAULT_PORT .. DEFAULT_PORT + span - 1, below Linux's ephemeral range


@dataclass(frozen=True)
class ClusterEnv:
    """Where this process sits in a multi-process job: what ``jax.distributed.initialize`` needs."""

    coordinator_address: str
    num_processes: int
    process_id: int


def expand_nodelist(nodelist: str) -> list[str]:
    """Expands a Slurm host list: ``node[01-03,07],login1`` -> ``[node01, node02, node03, node07, login1]``."""
    hosts: list[str] = []
    for prefix, ranges, plain in re.findall(r"([^,\[]+)\[([^\]]+)\]|([^,\[\]]+)", nodelist):
        if plain:
            hosts.append(plain.strip())
            continue
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            if not hi:
                hosts.append(f"{prefix}{lo}")
                continue
            hosts.extend(f"{prefix}{i:0{len(lo)}d}" for i in range(int(lo), int(hi) + 1))
    return hosts


def cluster_from_env(config: LaunchConfig, environ: Mapping[str, str] | None = None) -> ClusterEnv | None:
    """The cluster this process joins, from the config, ``XAX_*`` variables, or Slurm's; None when not in one.

    Precedence: ``launch.process_id >= 0`` with ``launch.coordinator_address``; then ``XAX_COORDINATOR_ADDRESS``,
    ``XAX_NUM_PROCESSES``, ``XAX_PROCESS_ID`` (what the local launcher sets); then ``SLURM_PROCID``,
    ``SLURM_NTASKS`` and the first host of ``SLURM_JOB_NODELIST`` (port ``XAX_COORDINATOR_PORT``, else
    :func:`slurm_port` of ``SLURM_JOB_ID``).

    Raises:
        ConfigError: When the variables are present but inconsistent.
    """
    env = os.environ if environ is None else environ
    try:
        if config.process_id >= 0:
            if not config.coordinator_address:
                raise ConfigError("launch.process_id is set but launch.coordinator_address is empty")
            return _checked(config.coordinator_address, config.num_processes, config.process_id)
        if PROCESS_ID_ENV in env:
            return _checked(env[COORDINATOR_ENV], int(env[NUM_PROCESSES_ENV]), int(env[PROCESS_ID_ENV]))
        if "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
            nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or ""
            hosts = expand_nodelist(nodelist)
            if not hosts:
                raise ConfigError("SLURM_JOB_NODELIST is empty: cannot pick the coordinator host")
            port = int(env.get("XAX_COORDINATOR_PORT") or slurm_port(env.get("SLURM_JOB_ID", "")))
            address = config.coordinator_address or f"{hosts[0]}:{port}"
            return _checked(address, int(env["SLURM_NTASKS"]), int(env["SLURM_PROCID"]))
    except KeyError as missing:
        raise ConfigError(f"{PROCESS_ID_ENV} is set but {missing.args[0]} is not") from None
    except ValueError as error:
        raise ConfigError(f"bad cluster environment: {error}") from None
    return None


def slurm_port(job_id: str) -> int:
    """The coordinator port of a Slurm job: derived from its id, so two jobs sharing a node rarely collide.

    Every rank computes it alone (they cannot talk before the coordinator exists); a requeued job keeps its id and
    port. Without a job id: :data:`DEFAULT_PORT`.
    """
    return DEFAULT_PORT + int(job_id) % SLURM_PORT_SPAN if job_id.isdigit() else DEFAULT_PORT


def _checked(address: str, num_processes: int, process_id: int) -> ClusterEnv:
    if ":" not in address:
        raise ConfigError(f"coordinator address {address!r} must be HOST:PORT")
    if not 0 <= process_id < num_processes:
        raise ConfigError(f"process id {process_id} is outside 0..{num_processes - 1}")
    return ClusterEnv(address, num_processes, process_id)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def devices_per_process(launch: LaunchConfig) -> int:
    """``launch.num_devices``, or the layout's default for 0 (multi_device's 0 stays 0: every local device)."""
    if launch.num_devices > 0 or launch.layout == "multi_device":
        return launch.num_devices
    if launch.layout == "multi_cpu":
        return max(1, min(8, os.cpu_count() or 1))
    return 1


def check_batch(batch_size: int, devices: int, where: str) -> None:
    """Raises a one-line ConfigError unless the global batch splits evenly over the devices."""
    if devices < 1:
        raise ConfigError(f"{where}: needs at least one device, got {devices}")
    if batch_size % devices:
        raise ConfigError(
            f"data.batch_size={batch_size} does not divide over {devices} devices ({where}); "
            f"use a multiple of {devices} (it is the global batch)"
        )


def cpu_device_env(num_devices: int, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child environment forcing ``num_devices`` host (CPU) devices before JAX initializes."""
    env = dict(os.environ if environ is None else environ)
    env["JAX_NUM_CPU_DEVICES"] = str(num_devices)  # jax's own option; it wins over XLA_FLAGS' device count
    env["PYTHONUNBUFFERED"] = "1"
    env[CHILD_ENV] = "1"
    return env
