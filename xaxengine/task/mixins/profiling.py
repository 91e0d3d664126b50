"""Profiling: ``jax.profiler`` traces of chosen steps, NaN debugging, compile costs and MFU.

The step-time breakdown itself is measured by :class:`~xaxengine.task.mixins.step_context.StepTimer`; the trainer
adds the compile time and the MFU computed here to it.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from xaxengine.config.sections import ProfileConfig, parse_step_range
from xaxengine.protocol import Kind

# Dense bf16 peak FLOP/s per device, from the vendors' spec sheets (matched as substrings of ``device_kind``).
PEAK_FLOPS_BF16: dict[str, float] = {
    "H200": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "GH200": 989e12,
    "B200": 2250e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10G": 70e12,
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v5p": 459e12,
    "TPU v6 lite": 918e12,
}

logger = logging.getLogger("xaxengine")


def peak_flops_for(device_kind: str) -> float | None:
    """The dense bf16 peak of a device kind, when it is in :data:`PEAK_FLOPS_BF16`."""
    for name, peak in PEAK_FLOPS_BF16.items():
        if name.lower() in device_kind.lower():
            return peak
    return None


def compiled_cost(compiled: Any) -> dict[str, float | None]:
    """FLOPs and bytes accessed of one call of a compiled function (per device), from XLA's cost analysis."""
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # some backends do not implement it
        return {"flops": None, "bytes_accessed": None}
    if isinstance(analysis, list):  # older jax: one dict per device program
        analysis = analysis[0] if analysis else {}
    analysis = analysis or {}
    flops, accessed = analysis.get("flops"), analysis.get("bytes accessed")
    return {
        "flops": float(flops) if flops and flops > 0 else None,
        "bytes_accessed": float(accessed) if accessed and accessed > 0 else None,
    }


def compiled_memory(compiled: Any) -> dict[str, int | None]:
    """Device memory of one call of a compiled function (per device), from XLA's memory analysis.

    ``temp_bytes`` is the scratch the program needs beyond its inputs and outputs (the activations kept for the
    backward pass live here, so it is what gradient accumulation shrinks); ``argument_bytes`` and ``output_bytes``
    are its operands and results. None where the backend has no analysis.
    """
    try:
        analysis = compiled.memory_analysis()
    except Exception:  # some backends do not implement it
        analysis = None
    names = {"temp_bytes": "temp_size_in_bytes", "argument_bytes": "argument_size_in_bytes"}
    names["output_bytes"] = "output_size_in_bytes"
    return {key: int(getattr(analysis, attr)) if analysis is not None else None for key, attr in names.items()}


def peak_flops(cfg: ProfileConfig) -> float | None:
    """Peak FLOP/s of one device: ``profile.peak_flops``, else the device-kind table, else None."""
    return cfg.peak_flops if cfg.peak_flops > 0 else peak_flops_for(jax.devices()[0].device_kind)


def configure_debugging(cfg: ProfileConfig) -> None:
    """Applies ``profile.debug_nans`` to jax (before anything is compiled)."""
    if cfg.debug_nans:
        jax.config.update("jax_debug_nans", True)


def trace_window(cfg: ProfileConfig, step: int) -> tuple[int, int] | None:
    """The steps to trace from a run now at ``step``: ``(start, end)``, or None.

    ``profile.steps = "100:110"`` traces the steps that take the run from step 100 to step 110. A run resumed
    inside the window traces the rest of it; one resumed past it traces nothing.
    """
    window = parse_step_range(cfg.steps)
    if window is None or step >= window[1]:
        return None
    return max(window[0], step), window[1]


class ProfilerTrace:
    """One ``jax.profiler`` trace into ``RUN_DIR/profile`` (``profile/process<i>`` for rank i > 0)."""

    def __init__(self, run_dir: Path, emit: Callable[..., object]) -> None:
        """``emit(kind, **fields)`` sends an event (the bus's ``emit``)."""
        self.run_dir, self.emit = run_dir, emit
        self._tracing: Path | None = None

    def start(self, first: int, last: int) -> None:
        """Starts tracing the steps ``first`` to ``last``."""
        directory = self.run_dir / "profile"
        if jax.process_index():
            directory = directory / f"process{jax.process_index()}"
        directory.mkdir(parents=True, exist_ok=True)
        jax.profiler.start_trace(str(directory), create_perfetto_trace=True)
        self._tracing = directory
        logger.info("profiling steps %d to %d", first, last)
        self.emit(Kind.LOG, level="info", message=f"profiling steps {first} to {last}")

    def finish(self, wait_for: Any) -> None:
        """Waits for ``wait_for`` on the device (so its work is in the trace), stops tracing, and logs the paths.

        Does nothing when no trace is running.
        """
        directory, self._tracing = self._tracing, None
        if directory is None:
            return
        if wait_for is not None:
            jax.block_until_ready(wait_for)
        jax.profiler.stop_trace()
        perfetto = sorted(directory.glob("plugins/profile/*/perfetto_trace.json.gz"))
        message = (
            f"profile written to {directory}: `tensorboard --logdir {directory}` (profile plugin) or open "
            f"{perfetto[-1] if perfetto else 'the perfetto_trace.json.gz under it'} in ui.perfetto.dev"
        )
        logger.info(message)
        self.emit(Kind.LOG, level="info", message=message, path=str(directory))
