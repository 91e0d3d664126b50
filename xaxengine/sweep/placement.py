"""Where trials run: one GPU per trial slot on a GPU host, an equal share of the CPU cores otherwise.

GPUs are counted without jax: ``CUDA_VISIBLE_DEVICES`` when set, else NVML. A CPU slot pins the trial's engine to
its cores with ``os.sched_setaffinity`` right after the spawn, before the engine has started any thread; XLA sizes
its CPU thread pools from the affinity mask, so no ``XLA_FLAGS`` are needed (a wrong flag would abort the engine).
"""

import logging
import os
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slot:
    """One place a trial can run: the environment it adds and the CPU cores it is pinned to (empty: no pinning)."""

    index: int
    env: dict[str, str] = field(default_factory=dict)
    cores: tuple[int, ...] = ()

    def describe(self) -> str:
        """``gpu 1`` or ``cpu 0-3``, for the table."""
        if "CUDA_VISIBLE_DEVICES" in self.env:
            return f"gpu {self.env['CUDA_VISIBLE_DEVICES']}"
        if not self.cores:
            return "cpu"
        return f"cpu {self.cores[0]}-{self.cores[-1]}" if len(self.cores) > 1 else f"cpu {self.cores[0]}"

    def pin(self, pid: int) -> None:
        """Pins a freshly spawned process to the slot's cores (a no-op without cores or affinity support)."""
        if self.cores and hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(pid, self.cores)
            except OSError as error:  # the engine may already be gone (a bad config exits at once)
                logger.debug("could not pin pid %d: %s", pid, error)


def visible_gpus() -> list[str]:
    """The GPU ids a trial may be given, [] on a CPU host or when ``JAX_PLATFORMS`` excludes CUDA."""
    platforms = os.environ.get("JAX_PLATFORMS", "")
    if platforms and not any(p in platforms for p in ("cuda", "gpu")):
        return []
    if (visible := os.environ.get("CUDA_VISIBLE_DEVICES")) is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no NVML library or driver: a CPU host
        return []


def make_slots(parallel: int, gpus: list[str] | None = None, cores: list[int] | None = None) -> list[Slot]:
    """Splits the host into ``parallel`` slots.

    Args:
        parallel: Trials at once.
        gpus: GPU ids (default: :func:`visible_gpus`). With fewer GPUs than slots, slots share GPUs round-robin
            and the engines stop preallocating GPU memory so that they fit together.
        cores: CPU cores to share out on a CPU host (default: this process's affinity).

    Returns:
        One slot per parallel trial.
    """
    gpus = visible_gpus() if gpus is None else gpus
    if gpus:
        shared = parallel > len(gpus)
        extra = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"} if shared else {}
        return [Slot(i, {"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)], **extra}) for i in range(parallel)]
    if cores is None:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cores:
        return [Slot(i) for i in range(parallel)]
    share = max(1, len(cores) // parallel)
    slots = []
    for i in range(parallel):
        start = (i * share) % len(cores)
        slots.append(Slot(i, {}, tuple(cores[start : start + share])))
    return slots
