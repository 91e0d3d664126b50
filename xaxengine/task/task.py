"""Task and SupervisedTask: the mixins composed, and the training loop that drives them.

Users subclass :class:`SupervisedTask` (with a config subclassing :class:`SupervisedConfig`) and implement
``get_model``, ``get_output``, ``compute_loss`` and ``get_dataset``; optionally ``get_optimizer``,
``compute_metrics`` and ``log_heavy``.
"""

import logging
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import PyTree

from xaxengine.config import config_to_dict
from xaxengine.launch_config import LaunchMixinConfig, RunOptions
from xaxengine.protocol import TIMING_PHASE, Kind, State
from xaxengine.runs import STDOUT_FILE, RunLock
from xaxengine.task.mixins.checkpointing import CheckpointingMixin, CheckpointingMixinConfig
from xaxengine.task.mixins.compile import CompileMixin, CompileMixinConfig
from xaxengine.task.mixins.cpu_stats import CPUStatsMixin, CPUStatsMixinConfig, StatsSampler
from xaxengine.task.mixins.dataloaders import (
    Columns,
    DataloadersMixin,
    DataloadersMixinConfig,
    LoaderPosition,
    TrainBatches,
)
from xaxengine.task.mixins.gpu_stats import GPUStatsMixin, GPUStatsMixinConfig
from xaxengine.task.mixins.process import ProcessMixin, ProcessMixinConfig, exit_code_for
from xaxengine.task.mixins.profiling import ProfilingMixin, ProfilingMixinConfig, compiled_cost
from xaxengine.task.mixins.runnable import RunnableMixin
from xaxengine.task.mixins.sharding import Placement, make_placement
from xaxengine.task.mixins.step_context import StepContextMixin, StepTimer
from xaxengine.task.mixins.supervised import (
    SupervisedMixin,
    accumulating_train_step,
    summarize,
    zero_sums,
)
from xaxengine.task.mixins.train import TrainMixin, TrainMixinConfig, TrainState
from xaxengine.task.validator import Validator

logger = logging.getLogger("xaxengine")


@dataclass(kw_only=True)
class Config(  # dataclass fields come in reverse MRO order: [train] first in TOML, [launch] last
    LaunchMixinConfig,
    ProfilingMixinConfig,
    ProcessMixinConfig,
    GPUStatsMixinConfig,
    CPUStatsMixinConfig,
    CompileMixinConfig,
    CheckpointingMixinConfig,
    DataloadersMixinConfig,
    TrainMixinConfig,
):
    """Every section a task has: ``[train]``, ``[optimizer]``, ``[data]``, ``[checkpoint]``, ``[logger]``, ..."""


@dataclass(kw_only=True)
class SupervisedConfig(Config):
    """Config of a supervised task; subclass it to add task fields (top level or new sections)."""


class NonFiniteLossError(RuntimeError):
    """Raised when the loss or gradients became non-finite under ``nan_policy = "stop"``."""

    def __init__(self, first_bad_step: int) -> None:
        super().__init__(f"non-finite loss or gradient at step {first_bad_step} (nan_policy=stop)")
        self.last_good_step = first_bad_step - 1


class Task[ConfigT: Config](
    TrainMixin[ConfigT],
    CheckpointingMixin[ConfigT],
    CompileMixin[ConfigT],
    DataloadersMixin[ConfigT],
    CPUStatsMixin[ConfigT],
    GPUStatsMixin[ConfigT],
    ProcessMixin[ConfigT],
    ProfilingMixin[ConfigT],
    StepContextMixin[ConfigT],
    RunnableMixin[ConfigT],
):
    """A task with every engine service; :class:`SupervisedTask` adds the supervised training loop."""

    config_class = Config
    placement: Placement = Placement()

    @classmethod
    def launch(cls, config: ConfigT, options: RunOptions | None = None) -> int:
        """Runs the task under its ``[launch] layout``: in this process, or in the child processes it needs."""
        from xaxengine.task.launchers import launch

        return launch(cls, config, options or RunOptions())

    def compile_and_report(
        self, name: str, fn: Any, args: Sequence[Any], donate_argnums: tuple[int, ...] = ()
    ) -> tuple[Any, float]:
        """Compiles a step function and emits a ``compile`` event (seconds, per-device FLOPs, the device's peak)."""
        step_fn, compiled, seconds = self.compile_step(fn, args, donate_argnums)
        cost = compiled_cost(compiled)
        if name == "train_step":
            self.step_flops = cost["flops"]
        self.bus.emit(
            Kind.COMPILE,
            name=name,
            compile_s=seconds,
            **cost,
            peak_flops=self.peak_flops(),
            device_kind=jax.devices()[0].device_kind,
            num_devices=len(self.placement.devices),
        )
        flops = f", {cost['flops']:.3g} FLOPs per call" if cost["flops"] else ""
        self.log_message("info", f"compiled the {name} in {seconds:.2f}s{flops}")
        return step_fn, seconds

    def emit_stats(self) -> None:
        """Samples CPU and GPU statistics and emits ``stats`` events (called by the sampler thread).

        In multi-process runs, ranks other than 0 write their sample to ``RUN_DIR/.stats/`` instead, and rank 0 emits
        one event per rank (``process`` = rank) from those files.
        """
        from xaxengine.task.launchers.multi_process import read_rank_stats, write_rank_stats

        sample = {**self.sample_cpu_stats(), "gpus": self.sample_gpu_stats()}
        rank = jax.process_index()
        if rank:
            write_rank_stats(self.run_dir, rank, sample)
            return
        self.bus.emit(Kind.STATS, **sample, process=0)
        for other, stats in read_rank_stats(self.run_dir):
            self.bus.emit(Kind.STATS, **stats, process=other)


class SupervisedTask[ConfigT: SupervisedConfig](SupervisedMixin[ConfigT], Task[ConfigT]):
    """Supervised training: the user writes the model, loss and data hooks; the engine does the rest."""

    config_class = SupervisedConfig

    def run(self, options: RunOptions) -> int:
        """Trains in this process, writing the run directory; returns the exit code (0, 1, 130 or 143)."""
        self.prepare_run_dir(options.resume_dir)
        lock = RunLock(self.run_dir)
        primary = jax.process_index() == 0  # only process 0 holds the lock and writes config and events
        if primary:
            lock.acquire()
        self.open_loggers(options.events_to_stdout, self.config.train.max_steps)
        if primary:
            self.write_resolved_config()
        self.install_signal_handlers()
        self.configure_compilation()
        self.configure_debugging()
        self.started = time.monotonic()
        self.step = 0
        self.emit_status(State.STARTING, 0)
        sampler = StatsSampler(self.emit_stats, self.config.stats.interval_s) if self.config.stats.enabled else None
        try:
            launch = self.config.launch
            self.placement = make_placement(
                launch.layout, launch.num_devices, launch.fsdp, launch.fsdp_min_size, self.config.data.batch_size
            )
            state, static, optimizer, position, restored_step = self._initial_state(options)
            self._emit_run_start(restored_step)
            if sampler is not None:
                self.emit_stats()
                if self.nvml_error:
                    self.log_message("info", self.nvml_error)
                sampler.start()
            return self._train(state, static, optimizer, position)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            with open(self.run_dir / STDOUT_FILE, "a") as f:
                f.write(traceback.format_exc())
            if isinstance(error, NonFiniteLossError):
                self.step = error.last_good_step
            self.emit_status(State.FAILED, self.step, reason=reason)
            message = f"run failed at step {self.step}: {reason} (traceback in {self.run_dir / STDOUT_FILE})"
            logger.error(message)
            if not options.events_to_stdout:  # human logs went to stdout; the failure line belongs on stderr too
                sys.stderr.write(f"xaxengine: error: {message}\n")
            return 1
        finally:
            if sampler is not None:
                sampler.stop()
            self.finish_trace(None)  # a trace window cut short by the end of training, a stop or a failure
            self.close_checkpoints()
            self.close_loggers()
            lock.release()

    def _emit_run_start(self, resumed: int | None) -> None:
        """The first event after ``starting``; ``resumed`` is the step of the checkpoint actually restored."""
        self.bus.emit(
            Kind.RUN_START,
            run_id=self.run_dir.name,
            task=self.task_spec(),
            run_dir=str(self.run_dir),
            config=config_to_dict(self.config),
            layout=self.placement.layout,
            devices=[str(d) for d in self.placement.devices],
            max_steps=self.config.train.max_steps,
            resumed_from_step=resumed,
            **self.process_info(),
        )

    def _train(self, state: TrainState, static: PyTree, optimizer: Any, position: LoaderPosition) -> int:
        cfg = self.config.train
        with self.step_context("data"):
            self.log_message("info", "loading datasets")
            train_columns, train_size = self.load_columns("train")
            valid_columns, valid_size = self.load_columns("valid")
            train_columns = self.placement.put_columns(train_columns)
            valid_columns = self.placement.put_columns(valid_columns)
        state = self.placement.put_state(state)
        self.log_message("info", self.placement.describe(state))
        self.step = int(state.step)
        if self._agreed_stop_signal():
            return self._interrupt(state, position)

        self.emit_status(State.COMPILING, self.step)
        batches = self.train_batches(train_size, cfg.seed, position)
        step_fn, sums = self._compile_train_step(state, static, optimizer, train_columns, batches)
        self.validator = Validator(self, static, valid_columns, valid_size)
        self.emit_status(State.RUNNING, self.step)
        return self._loop(state, static, sums, step_fn, train_columns, batches)

    def _compile_train_step(
        self, state: TrainState, static: PyTree, optimizer: Any, columns: Columns, batches: TrainBatches
    ) -> tuple[Any, dict[str, jax.Array]]:
        """Compiles the accumulating train step; returns it and its zeroed metric sums."""
        cfg = self.config.train
        on_device = isinstance(next(iter(columns.values())), jax.Array)
        update = self.make_train_update(
            static, optimizer, skip_nonfinite=cfg.nan_policy == "skip_step", grad_norm_every=cfg.log_every_n_steps
        )
        data = self._step_data(columns, batches.permutation[: self.config.data.batch_size], on_device)
        names = list(jax.eval_shape(update, state, *data)[1])
        sums = self.placement.replicate(zero_sums(names))
        out_shardings = (self.placement.state_shardings(state), self.placement.state_shardings(sums))
        step_fn, self.compile_s = self.compile_and_report(
            "train_step",
            self.placement.constrain(accumulating_train_step(update), out_shardings),
            (state, sums, *data),
            (0, 1),
        )
        return step_fn, sums

    def _loop(
        self,
        state: TrainState,
        static: PyTree,
        sums: dict[str, jax.Array],
        step_fn: Any,
        train_columns: Columns,
        batches: TrainBatches,
    ) -> int:
        """Steps until ``max_steps`` or a stop signal; logs, validates and checkpoints on schedule."""
        cfg = self.config.train
        on_device = isinstance(next(iter(train_columns.values())), jax.Array)
        self.last_save_time = time.monotonic()
        # Host clocks around the data and step calls; with the breakdown off they are a C builtin returning 0.
        clock = time.perf_counter if self.config.profile.timing else int
        trace_at, trace_end = self.trace_steps()
        self.timer = timer = StepTimer(self.step)
        data_s = step_s = 0.0

        while self.step < cfg.max_steps:
            if self.step == trace_at:
                with self.step_context("profile"):
                    self.start_trace()
            t0 = clock()
            data = self._step_data(train_columns, next(batches), on_device)
            t1 = clock()
            state, sums = step_fn(state, sums, *data)
            step_s += clock() - t1
            data_s += t1 - t0
            self.step += 1
            if self.step == trace_end:
                with self.step_context("profile"):
                    self.finish_trace(state)
            last = self.step == cfg.max_steps
            stop, save = self._control(last)
            if self.step % cfg.log_every_n_steps == 0 or last or save or stop:
                timer.add(data_s, step_s)
                data_s = step_s = 0.0
                sums = self._log_train(sums, timer, clock)
                if not self.placement.multi_process:  # saves finish in lockstep on every process otherwise
                    with self.step_context("checkpoint"):
                        self.poll_pending_save()
            if cfg.valid_every_n_steps and (self.step % cfg.valid_every_n_steps == 0 or last):
                with self.step_context("valid"):
                    self.validator.run(state.params, self.step)
            if cfg.log_heavy_every_n_steps and (self.step % cfg.log_heavy_every_n_steps == 0 or last):
                with self.step_context("log"):
                    self.log_heavy(eqx.combine(state.params, static), self.validator.host_batch(), self.step)
            if stop:
                return self._interrupt(state, batches.position)
            if save or (last and self.config.checkpoint.save_every_n_steps):
                self.checkpoint_requested = False
                self._save(state, batches.position)

        self.finish_pending_save()
        self.finish_trace(state)
        self.emit_status(State.FINISHED, self.step)
        return 0

    def _step_data(self, columns: Columns, idx: np.ndarray, on_device: bool) -> tuple[Columns, Any]:
        return self.placement.step_data(columns, idx, on_device)

    def _agreed_stop_signal(self) -> int:
        """The stop signal, agreed on by every process (any process's signal stops them all)."""
        signum = self.placement.agree([self.stop_signal or 0])[0]
        if signum:
            self.stop_signal = signum
        return signum

    def _control(self, last: bool) -> tuple[bool, bool]:
        """Whether to stop and whether to checkpoint now: the same answer on every process.

        In one process the flags are read every step. In multi-process runs, signals and time- or request-based
        checkpoints are agreed on at log boundaries (one tiny all-gather), so a stop takes effect within
        ``log_every_n_steps`` steps; step-based checkpoints need no agreement.
        """
        if not self.placement.multi_process:
            return self.stop_signal is not None, self._wants_checkpoint()
        ckpt = self.config.checkpoint
        scheduled = bool(ckpt.save_every_n_steps) and self.step % ckpt.save_every_n_steps == 0
        if not (last or self.step % self.config.train.log_every_n_steps == 0):
            return False, scheduled
        signum, requested = self.placement.agree([self.stop_signal or 0, int(self._wants_checkpoint())])
        if signum:
            self.stop_signal = signum
        return bool(signum), scheduled or bool(requested)

    def _wants_checkpoint(self) -> bool:
        ckpt = self.config.checkpoint
        if self.checkpoint_requested:
            return True
        if ckpt.save_every_n_steps and self.step % ckpt.save_every_n_steps == 0:
            return True
        return bool(ckpt.save_every_n_seconds) and time.monotonic() - self.last_save_time >= ckpt.save_every_n_seconds

    def _log_train(self, sums: dict[str, jax.Array], timer: StepTimer, clock: Any) -> dict[str, jax.Array]:
        """Fetches and logs the window's train means, then the step-time breakdown of the interval it closes.

        The fetch waits for the steps still queued on the device, so its time counts as step time.
        """
        t0 = clock()
        fetched = jax.device_get(sums)
        t1 = clock()
        timer.seconds["step"] += t1 - t0
        means, nonfinite, first_bad = summarize(fetched)
        if nonfinite and self.config.train.nan_policy == "stop":
            raise NonFiniteLossError(first_bad + 1)
        timer.seconds["log"] += clock() - t1
        timing = timer.interval(self.step, self.config.data.batch_size)
        t2 = clock()
        if nonfinite:
            self.log_message("warning", f"skipped {nonfinite} non-finite update(s), first at step {first_bad + 1}")
        self.log_scalars(
            self.step,
            "train",
            means,
            steps_per_s=timing["steps_per_s"],
            samples_per_s=timing["samples_per_s"],
            elapsed_s=time.monotonic() - self.started,
        )
        if self.config.profile.timing:
            self.log_scalars(self.step, TIMING_PHASE, self.timing_values(timing))
        fresh = self.placement.replicate(zero_sums(list(fetched)))
        timer.seconds["log"] += clock() - t2
        return fresh

    def _checkpoint_meta(self, position: LoaderPosition) -> dict[str, Any]:
        return {
            "loader": {"epoch": position.epoch, "offset": position.offset, "seed": self.config.train.seed},
            "config": config_to_dict(self.config),
            "task": self.task_spec(),
        }

    def _save(self, state: TrainState, position: LoaderPosition) -> None:
        with self.step_context("checkpoint"):
            self.save_checkpoint(self.step, state, self._checkpoint_meta(position))

    def _initial_state(self, options: RunOptions) -> tuple[TrainState, PyTree, Any, LoaderPosition, int | None]:
        """Fresh state, or the newest readable checkpoint (resume), or another run's weights (init-from).

        Returns:
            The state, the model's static part, the optimizer, the loader position, and the restored step (resume).
        """
        if options.resume_dir is not None:
            abstract, static, optimizer = self.init_state(abstract=True)
            abstract = self.placement.shard_abstract(abstract)
            restored = self._restore_newest_readable(self.checkpoint_manager(), abstract, "resume", set_aside=True)
            if restored is not None:
                state, meta = restored
                loader = meta.get("loader", {})
                position = LoaderPosition(int(loader.get("epoch", 0)), int(loader.get("offset", 0)))
                return state, static, optimizer, position, int(meta.get("step", state.step))
            self.log_message("warning", "no checkpoint to resume from; starting from step 0")
        state, static, optimizer = self.init_state()
        if options.init_from is not None:
            source = self.open_checkpoint_manager(options.init_from)
            restored = self._restore_newest_readable(source, state, f"init-from {options.init_from}")
            if restored is None:
                raise FileNotFoundError(f"--init-from {options.init_from}: no readable checkpoint")
            params = restored[0].params
            state = TrainState(step=state.step, params=params, opt_state=optimizer.init(params), key=state.key)
        return state, static, optimizer, LoaderPosition(), None

    def _restore_newest_readable(
        self, manager: Any, target: TrainState, purpose: str, set_aside: bool = False
    ) -> tuple[TrainState, dict[str, Any]] | None:
        """Restores the newest checkpoint that reads back, saying which ones it skipped and why.

        With ``set_aside`` (this run's own checkpoints), an unreadable one is renamed ``<step>.unreadable`` rather
        than left in place: the run will reach that step again and must be able to save it, and ``max_to_keep``
        must not delete readable checkpoints to keep a broken one. Nothing is deleted.
        """
        steps = sorted(manager.all_steps(), reverse=True)
        for step in steps:
            try:
                state, meta = self.restore_checkpoint(step, target, manager)
            except Exception as error:
                aside = self.set_aside_checkpoint(step) if set_aside else None
                where = f"; moved to {aside}" if aside else "; skipping it"
                self.log_message(
                    "warning", f"{purpose}: checkpoint at step {step} is unreadable ({type(error).__name__}){where}"
                )
                continue
            note = "" if step == steps[0] else " (newest readable; newer ones were unreadable)"
            self.log_message("info", f"{purpose}: restored the checkpoint at step {step}{note}")
            return state, meta
        return None

    def _interrupt(self, state: TrainState, position: LoaderPosition) -> int:
        signum = self.stop_signal or 0
        self.emit_status(State.STOPPING, self.step, reason=f"signal {signum}")
        if self.step > 0:
            self.save_checkpoint(self.step, state, self._checkpoint_meta(position))
            self.finish_pending_save()
        self.emit_status(State.INTERRUPTED, self.step, reason=f"signal {signum}")
        return exit_code_for(signum)
