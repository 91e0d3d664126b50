"""The engine's config sections and :class:`Config`, which declares them as fields.

Jax-free and beside nothing else, so the CLI, ``schema``, the TUI form and the sweep driver can build and check a
whole config without starting JAX. Each section's settings are read by one service (named in its docstring).

The TOML order of the sections is the order of :class:`Config`'s fields, what people change most first: ``[train]``
(the loop), ``[optimizer]``, ``[data]``, ``[artifacts]`` (where the run goes), ``[logger]``, ``[checkpoint]``, then
the machine-facing ones: ``[compile]``, ``[stats]``, ``[gpu_stats]``, ``[process]``, ``[profile]``, ``[launch]``.
A task's own fields come after them (top-level keys, or new sections of a subclass).
"""

import itertools
import re
from dataclasses import dataclass
from typing import Literal

from xaxengine.config.fields import MAX_STEPS, field
from xaxengine.launch_config import LaunchConfig

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


@dataclass(kw_only=True)
class EarlyStopConfig:
    """Early stopping on a validation metric (``[train.early_stop]``)."""

    metric: str = field("", help="Logged metric to watch, e.g. 'valid/loss' or 'valid/accuracy'; empty disables it.")
    mode: Literal["min", "max"] = field("min", help="Whether lower ('min') or higher ('max') values are better.")
    patience: int = field(3, ge=1, help="Finish after this many validations in a row without an improvement.")
    min_delta: float = field(0.0, ge=0.0, help="An improvement must beat the best value by more than this.")


@dataclass(kw_only=True)
class TrainConfig:
    """The training loop."""

    max_steps: int = field(1000, ge=0, lt=MAX_STEPS, help="Number of optimizer steps to train for.")
    seed: int = field(0, ge=0, lt=2**32, help="Seed for parameter init, dropout keys and data order.")
    log_every_n_steps: int = field(
        50, ge=1, lt=MAX_STEPS, help="Fetch accumulated train metrics from the device and log them this often."
    )
    valid_every_n_steps: int = field(
        250, ge=0, lt=MAX_STEPS, help="Run validation this often (and at the end); 0 disables it."
    )
    log_heavy_every_n_steps: int = field(
        0, ge=0, lt=MAX_STEPS, help="Call log_heavy (images, histograms, samples) this often; 0 = never."
    )
    max_steps_in_flight: int = field(
        16,
        ge=1,
        le=1024,
        help="At most this many dispatched steps may still be running on the device; once they are, the host waits "
        "for the oldest half. A stop signal lands within the queue's depth (see train.dispatch_ahead_s).",
    )
    dispatch_ahead_s: float = field(
        0.04,
        ge=0.0,
        le=3600.0,
        help="Queue only as many steps as take this many seconds at the measured pace (at least 2, at most "
        "train.max_steps_in_flight), so a stop lands within about this long (or 2 steps); 0 = always "
        "train.max_steps_in_flight.",
    )
    valid_every_n_seconds: float = field(
        0.0, ge=0.0, help="Also validate when this many seconds passed since the last one."
    )
    max_seconds: float = field(
        0.0, ge=0.0, help="Wall-clock budget of the loop: finish (with a checkpoint) once it is spent; 0 = no budget."
    )
    early_stop: EarlyStopConfig = field(EarlyStopConfig, help="Early stopping ([train.early_stop]).")
    nan_policy: Literal["stop", "skip_step"] = field(
        "stop", help="On a non-finite loss or gradient: stop the run as failed, or skip that update and go on."
    )
    grad_accum_steps: int = field(
        1,
        ge=1,
        le=4096,
        help="Split each batch into this many microbatches, summing their gradients (memory follows the microbatch).",
    )
    steps_per_call: int = field(
        1,
        ge=1,
        le=4096,
        help="Optimizer steps per compiled call (a lax.scan); every step cadence must be a multiple of it, and a stop "
        "lands at the next call boundary.",
    )
    ema_decay: float = field(
        0.0,
        ge=0.0,
        lt=1.0,
        help="Keep an exponential moving average of the weights with this decay per step (0 = off), checkpointed.",
    )
    eval_with_ema: bool = field(False, help="Validate and call log_heavy with the EMA weights (needs ema_decay > 0).")
    precision: Literal["fp32", "bf16", "bf16_params"] = field(
        "fp32",
        help="'bf16' computes in bfloat16 with fp32 master weights and optimizer state; 'bf16_params' also stores "
        "them in bfloat16. The loss runs in fp32.",
    )


@dataclass(kw_only=True)
class OptimizerConfig:
    """The optimizer, built by build_optimizer."""

    kind: Literal["adam", "adamw", "sgd", "lion"] = field("adamw", help="Optimizer.")
    lr: float = field(1e-3, ge=0.0, help="Peak learning rate.")
    weight_decay: float = field(0.0, ge=0.0, help="Decoupled weight decay (adamw, lion).")
    b1: float = field(0.9, ge=0.0, lt=1.0, help="First moment decay (adam, adamw, lion); momentum for sgd.")
    b2: float = field(0.999, ge=0.0, lt=1.0, help="Second moment decay (adam, adamw, lion).")
    schedule: Literal["constant", "cosine", "linear"] = field("constant", help="Learning rate schedule after warmup.")
    warmup_steps: int = field(0, ge=0, lt=MAX_STEPS, help="Linear warmup steps from 0 to the peak learning rate.")
    grad_clip_norm: float = field(0.0, ge=0.0, help="Clip gradients to this global norm; 0 disables clipping.")


@dataclass(kw_only=True)
class DataConfig:
    """Data loading."""

    batch_size: int = field(128, ge=1, lt=2**31, help="Global batch size (samples per optimizer step).")
    valid_batch_size: int = field(0, ge=0, lt=2**31, help="Validation batch size; 0 means the training batch size.")
    shuffle: bool = field(True, help="Shuffle the training set each epoch (seeded, reproducible).")
    device_max_bytes: int = field(
        2**30, ge=0, help="Keep the whole dataset on the device when its columns take at most this many bytes."
    )
    valid_max_batches: int = field(0, ge=0, help="Cap on validation batches per evaluation; 0 means the whole set.")
    loader: Literal["auto", "memory", "grain"] = field(
        "auto",
        help="'auto': whole columns in memory when the dataset fits host_max_bytes and the task has no transform, "
        "else Grain; 'memory' or 'grain' force a path.",
    )
    host_max_bytes: int = field(
        2**33, ge=0, help="A datasets.Dataset larger than this is read row by row through Grain (memory-mapped)."
    )
    mapped_max_bytes: int = field(
        2**26,
        ge=0,
        help="A memory-mapped datasets.Dataset larger than host_max_bytes: each reading process unmaps the file's "
        "pages once this many bytes of them are mapped (they stay in the page cache), bounding RSS at the cost of "
        "re-mapping them (about 4x slower row reads); 0 = never.",
    )
    num_workers: int = field(
        0,
        ge=0,
        le=1024,
        help="Grain worker processes building batches (transforms run there); 0 builds them in this process.",
    )
    prefetch: int = field(
        2, ge=1, le=1024, help="Batches each Grain worker (or this process, with 0 workers) builds ahead."
    )
    on_error: Literal["fail", "skip"] = field(
        "fail", help="An example whose transform raises: 'fail' the run, or 'skip' it (replaced and counted)."
    )
    shuffle_buffer: int = field(1000, ge=1, help="Seeded shuffle buffer of a streaming (IterableDataset) source.")
    pad_to: dict[str, int] = field(
        {},
        help="Variable-length columns padded with zeros to a fixed length along their first axis, e.g. "
        "{tokens = 256}; each gets a boolean '<column>_mask' (True: a real position). Longer examples fail the run "
        "with one line. Uses the Grain path.",
    )
    bucket_by: str = field(
        "",
        help="Batch training examples of similar length together by this variable-length column (its first axis), "
        "each batch padded (with '<column>_mask') to the smallest of bucket_lengths that holds it; the step compiles "
        "once per length. Uses the Grain path.",
    )
    bucket_lengths: list[int] = field(
        [], help="The lengths data.bucket_by pads to, ascending, e.g. [64, 128, 256]; a longer example fails the run."
    )
    bucket_window: int = field(
        32,
        ge=1,
        help="data.bucket_by sorts the examples of this many consecutive batches (in the epoch's shuffled order) by "
        "length, cuts them into batches and shuffles those: larger groups pad less and mix less.",
    )

    def __post_init__(self) -> None:
        """Refuses bucket settings that cannot work, naming the field."""
        if bool(self.bucket_by) != bool(self.bucket_lengths):
            raise ValueError("data.bucket_by and data.bucket_lengths are set together (a column and its lengths)")
        lengths = self.bucket_lengths
        if any(b < 1 for b in lengths) or any(a >= b for a, b in itertools.pairwise(lengths)):
            raise ValueError(f"data.bucket_lengths={lengths} must be positive and strictly ascending")
        if self.bucket_by in self.pad_to:
            raise ValueError(f"column '{self.bucket_by}' is in both data.pad_to and data.bucket_by; keep one")


@dataclass(kw_only=True)
class ArtifactsConfig:
    """Where runs are written."""

    runs_dir: str = field("", help="Root folder for runs; empty means $XAX_RUNS_DIR, else ./runs.")
    run_id: str = field("", help="Run id (folder name); empty means a new timestamped id.")
    tags: dict[str, str] = field({}, help="Labels kept with the run (config.toml, run_start), e.g. sweep and trial.")


@dataclass(kw_only=True)
class WandbConfig:
    """Weights & Biases settings (``[logger.wandb]``)."""

    enabled: bool = field(False, help="Log to Weights & Biases (needs the 'wandb' extra).")
    project: str = field("xax", help="W&B project.")
    entity: str = field("", help="W&B entity (user or team); empty means your default.")
    mode: Literal["offline", "online", "disabled"] = field(
        "offline", help="'offline' writes RUN_DIR/wandb for `wandb sync`; 'online' uploads as it trains."
    )
    tags: list[str] = field([], help="Tags of the W&B run.")
    name: str = field("", help="Display name of the W&B run; empty means the run id.")


@dataclass(kw_only=True)
class LoggerConfig:
    """Logger backends."""

    tensorboard: bool = field(True, help="Write TensorBoard summaries under RUN_DIR/tensorboard.")
    wandb: WandbConfig = field(WandbConfig, help="Weights & Biases settings ([logger.wandb]; enabled = true).")
    progress: Literal["auto", "bar", "plain", "off"] = field(
        "auto", help="Human progress output: a rich bar on a terminal ('auto'), plain lines, or nothing."
    )
    table_every_n: int = field(
        10, ge=0, help="With the bar, print a table of the latest scalars every N logs; 0 = never."
    )
    level: Literal["debug", "info", "warning", "error"] = field("info", help="Level of human log lines.")


@dataclass(kw_only=True)
class CheckpointConfig:
    """Checkpointing."""

    save_every_n_steps: int = field(
        500, ge=0, lt=MAX_STEPS, help="Save a checkpoint this often (and at the end); 0 disables it."
    )
    save_every_n_seconds: float = field(
        0.0, ge=0.0, help="Also save when this many seconds passed since the last save."
    )
    max_to_keep: int = field(3, ge=1, help="Keep this many most recent checkpoints; older ones are deleted.")
    async_save: bool = field(True, help="Write checkpoints in the background while training continues.")
    on_error: Literal["stop", "continue"] = field(
        "stop",
        help="When a save fails (disk full, read-only): stop the run as failed at the last good checkpoint, or log "
        "it and keep training (the next save tries again).",
    )
    keep_best: str = field(
        "",
        help="Also keep the checkpoint of the best value of this metric (e.g. 'valid/accuracy') in best_checkpoint/.",
    )
    keep_best_mode: Literal["max", "min"] = field("max", help="Whether higher ('max') or lower ('min') is better.")


@dataclass(kw_only=True)
class CompileConfig:
    """XLA compilation."""

    donate_buffers: bool = field(True, help="Donate the train state to the step so XLA updates it in place.")
    cache_dir: str = field("", help="Persistent compilation cache folder (reused across runs); empty disables it.")


@dataclass(kw_only=True)
class StatsConfig:
    """System statistics sampling."""

    enabled: bool = field(True, help="Sample CPU/GPU statistics in a background thread and emit 'stats' events.")
    interval_s: float = field(1.0, gt=0.0, help="Seconds between samples.")


@dataclass(kw_only=True)
class GPUStatsConfig:
    """GPU statistics."""

    enabled: bool = field(True, help="Read per-GPU utilization, memory, temperature and power through NVML.")


@dataclass(kw_only=True)
class ProcessConfig:
    """Signal handling and the priority of the engine's own threads."""

    handle_signals: bool = field(
        True, help="Catch SIGINT/SIGTERM (finish the step, checkpoint, exit) and SIGUSR1 (checkpoint now)."
    )
    background_nice: int = field(
        10,
        ge=0,
        le=19,
        help="Niceness the engine's logger and stats threads add to themselves, so on a busy machine they never take "
        "a core from the step (they still run when one is idle); 0 = the step's priority.",
    )


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
        0.0,
        ge=0.0,
        help="Peak FLOP/s of one device for MFU; 0 = look the device kind up (known GPUs/TPUs, dense bf16).",
    )

    def __post_init__(self) -> None:
        parse_step_range(self.steps)


@dataclass(kw_only=True)
class Config:
    """Every section a task has; subclass it (or :class:`SupervisedConfig`) to add the task's own fields."""

    train: TrainConfig = field(TrainConfig, help="Training loop settings.")
    optimizer: OptimizerConfig = field(OptimizerConfig, help="Optimizer settings.")
    data: DataConfig = field(DataConfig, help="Data loading settings.")
    artifacts: ArtifactsConfig = field(ArtifactsConfig, help="Run directory settings.")
    logger: LoggerConfig = field(LoggerConfig, help="Logging settings.")
    checkpoint: CheckpointConfig = field(CheckpointConfig, help="Checkpoint settings.")
    compile: CompileConfig = field(CompileConfig, help="Compilation settings.")
    stats: StatsConfig = field(StatsConfig, help="System statistics settings.")
    gpu_stats: GPUStatsConfig = field(GPUStatsConfig, help="GPU statistics settings.")
    process: ProcessConfig = field(ProcessConfig, help="Process and signal settings.")
    profile: ProfileConfig = field(ProfileConfig, help="Profiling, step-time breakdown and NaN debugging.")
    launch: LaunchConfig = field(LaunchConfig, help="Device layout settings.")

    def __post_init__(self) -> None:
        check_step_shape(self)


def check_step_shape(config: Config) -> None:
    """Refuses microbatches that do not split the batch, step cadences inside a call of ``steps_per_call``, a bad EMA.

    Raises:
        ValueError: One line naming the offending field.
    """
    train, k = config.train, config.train.steps_per_call
    accum, batch = train.grad_accum_steps, config.data.batch_size
    if accum < 1 or batch % accum:
        raise ValueError(f"train.grad_accum_steps={accum} must be >= 1 and divide data.batch_size={batch}")
    if k < 1:
        raise ValueError(f"train.steps_per_call={k} must be >= 1")
    if not 0.0 <= train.ema_decay < 1.0:
        raise ValueError(f"train.ema_decay={train.ema_decay} must be in [0, 1) (0 turns the EMA off)")
    if train.eval_with_ema and not train.ema_decay:
        raise ValueError("train.eval_with_ema = true needs train.ema_decay > 0")
    window = parse_step_range(config.profile.steps) or (0, 0)
    cadences = {
        "train.max_steps": train.max_steps,
        "train.log_every_n_steps": train.log_every_n_steps,
        "train.valid_every_n_steps": train.valid_every_n_steps,
        "train.log_heavy_every_n_steps": train.log_heavy_every_n_steps,
        "checkpoint.save_every_n_steps": config.checkpoint.save_every_n_steps,
        "profile.steps (start)": window[0],
        "profile.steps (end)": window[1],
    }
    for name, every in cadences.items():
        if every % k:
            raise ValueError(f"train.steps_per_call={k}: {name}={every} must be a multiple of it (or 0)")


@dataclass(kw_only=True)
class SupervisedConfig(Config):
    """Config of a supervised task; subclass it to add task fields (top level or new sections)."""
