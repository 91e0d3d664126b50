"""Profiling: ``jax.profiler`` traces of chosen steps, NaN debugging, compile costs and MFU.

The step-time breakdown itself is measured by :class:`~xaxengine.task.mixins.step_context.StepTimer`; this mixin
owns its ``[profile]`` switches and adds the compile time and MFU to it.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax

from xaxengine.config import field
from xaxengine.protocol import Kind
from xaxengine.task.mixins.logger import LoggerMixin, LoggerMixinConfig

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

_STEPS_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_step_range(text: str) -> tuple[int, int] | None:
    """``"100:110"`` -> ``(100, 110)``; empty -> None.

    Raises:
        ValueError: Not ``START:END`` with ``0 <= START < END``.
    """
    if not text.strip():
        return None
    match = _STEPS_RE.match(text)
    if not match or int(match[1]) >= int(match[2]):
        raise ValueError(f"profile.steps must be 'START:END' with START < END (e.g. '100:110'), got {text!r}")
    return int(match[1]), int(match[2])


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


@dataclass(kw_only=True)
class ProfileConfig:
    """Profiling and timing."""

    timing: bool = field(
        True, help="Emit the step-time breakdown (scalars of phase 'timing') at every train log; host clocks only."
    )
    steps: str = field(
        "", help="Capture a jax.profiler trace of these steps, 'START:END' (e.g. '100:110'); empty disables it."
    )
    debug_nans: bool = field(
        False, help="Set jax_debug_nans: the first NaN raises, naming the primitive (slow; steps run without AOT)."
    )
    peak_flops: float = field(
        0.0, help="Peak FLOP/s of one device for MFU; 0 = look the device kind up (known GPUs/TPUs, dense bf16)."
    )

    def __post_init__(self) -> None:
        parse_step_range(self.steps)


@dataclass(kw_only=True)
class ProfilingMixinConfig(LoggerMixinConfig):
    """Config section of the profiling mixin."""

    profile: ProfileConfig = field(ProfileConfig, help="Profiling, step-time breakdown and NaN debugging.")


class ProfilingMixin[ConfigT: ProfilingMixinConfig](LoggerMixin[ConfigT]):
    """Turns on NaN debugging, traces the chosen steps, and adds compile time and MFU to the timing scalars."""

    step: int = 0
    compile_s: float | None = None  # the train step's; reported once, in the first timing event
    step_flops: float | None = None  # per device per train step, from XLA's cost analysis
    _tracing: Path | None = None
    _peak: tuple[float | None] | None = None

    def configure_debugging(self) -> None:
        """Applies ``profile.debug_nans`` to jax (before anything is compiled)."""
        if self.config.profile.debug_nans:
            jax.config.update("jax_debug_nans", True)

    def peak_flops(self) -> float | None:
        """Peak FLOP/s of one device: ``profile.peak_flops``, else the device-kind table, else None (cached)."""
        if self._peak is None:
            configured = self.config.profile.peak_flops
            self._peak = (configured if configured > 0 else peak_flops_for(jax.devices()[0].device_kind),)
        return self._peak[0]

    def timing_values(self, timing: dict[str, float]) -> dict[str, float]:
        """The interval's breakdown, plus ``compile_s`` (first interval only) and ``mfu`` (FLOPs and peak known)."""
        values = dict(timing)
        if self.compile_s is not None:
            values["compile_s"], self.compile_s = self.compile_s, None
        peak = self.peak_flops()
        if self.step_flops and peak:
            values["mfu"] = self.step_flops * timing["steps_per_s"] / peak
        return values

    def trace_steps(self) -> tuple[int, int]:
        """The step at which to start tracing and the one at which to stop; ``(-1, -1)`` for none.

        ``profile.steps = "100:110"`` traces the steps that take the run from step 100 to step 110. A run resumed
        inside the window traces the rest of it; one resumed past it traces nothing.
        """
        window = parse_step_range(self.config.profile.steps)
        if window is None or self.step >= window[1]:
            return -1, -1
        return max(window[0], self.step), window[1]

    def start_trace(self) -> None:
        """Starts a ``jax.profiler`` trace into ``RUN_DIR/profile`` (``profile/process<i>`` for rank i > 0)."""
        directory = self.run_dir / "profile"
        if jax.process_index():
            directory = directory / f"process{jax.process_index()}"
        directory.mkdir(parents=True, exist_ok=True)
        jax.profiler.start_trace(str(directory), create_perfetto_trace=True)
        self._tracing = directory
        self.log_message("info", f"profiling steps {self.step} to {self.trace_steps()[1]}")

    def finish_trace(self, wait_for: Any) -> None:
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
        self.bus.emit(Kind.LOG, level="info", message=message, path=str(directory))
