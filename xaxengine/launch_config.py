"""How a run is launched, beyond the task: the ``[launch]`` section, the layouts, and the run options.

A jax-free leaf: the CLI, every launcher and the TUI import it (the TUI lists :data:`LAYOUTS` on its launch screen).

Layouts:

- ``single_device``: one process, one device (the default).
- ``multi_device``: one process, data parallel over a 1-D mesh of ``num_devices`` local devices (0 = all).
- ``multi_cpu``: ``multi_device`` over ``num_devices`` forced CPU devices, in a child process started with
  ``JAX_NUM_CPU_DEVICES`` set before JAX initializes.
- ``multi_process``: ``num_processes`` engine processes joined with ``jax.distributed`` (each with
  ``num_devices`` local CPU devices when on CPU), started on this host, or joining a cluster described by
  ``XAX_*`` or ``SLURM_*`` environment variables.

``data.batch_size`` is always the *global* batch: each of the D devices of the mesh gets ``batch_size / D`` rows,
so the loss curve does not depend on the layout.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xaxengine.config import field

Layout = Literal["single_device", "multi_device", "multi_cpu", "multi_process"]
LAYOUTS: dict[str, str] = {  # name -> title, in the order the launch screen lists them
    "single_device": "Single device",
    "multi_device": "Data parallel over N devices",
    "multi_cpu": "Multi-CPU (N host devices)",
    "multi_process": "Multi-process (jax.distributed)",
}


@dataclass
class RunOptions:
    """How to run, beyond the task config: where events go and whether to continue an existing run."""

    events_to_stdout: bool = False
    resume_dir: Path | None = None
    init_from: Path | None = None


@dataclass(kw_only=True)
class LaunchConfig:
    """Device layout."""

    layout: Layout = field(
        "single_device", help="Device layout: single_device, multi_device, multi_cpu, multi_process."
    )
    num_devices: int = field(
        0,
        ge=0,
        le=65536,
        help="Devices per process; 0 = the layout's default: every local device (multi_device), one CPU device per "
        "core up to 8 (multi_cpu), one per process (multi_process on CPU).",
    )
    num_processes: int = field(2, ge=1, le=65536, help="multi_process: engine processes started on this host.")
    coordinator_address: str = field(
        "", help="multi_process: HOST:PORT of process 0 when joining a cluster; empty = environment or a free port."
    )
    process_id: int = field(
        -1, ge=-1, help="multi_process: this process's rank when joining a cluster; -1 = environment."
    )
    fsdp: bool = field(False, help="Shard large parameters and optimizer state over the data axis (FSDP-style).")
    fsdp_min_size: int = field(2**14, ge=0, help="With fsdp: arrays with fewer elements than this stay replicated.")

    def __post_init__(self) -> None:
        if self.layout == "single_device" and self.num_devices > 1:
            raise ValueError(
                f"launch.num_devices={self.num_devices} needs a layout with several devices (launch.layout = "
                "multi_device, multi_cpu or multi_process); single_device runs on one"
            )
