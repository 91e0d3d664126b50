"""The trainer: owns the training loop of a task (supervised or with its own step), its context and its hooks.

One run, in order: the run directory, lock, loggers and signal handlers; the initial state (fresh, resumed, or
``--init-from``); the datasets; the compiled train step; then the loop, which dispatches one jitted step per
iteration and walks the :class:`~xaxengine.task.hooks.HookRegistry` after it. Every cadence (train log,
validation, ``log_heavy``, checkpoints by steps and by seconds, the profiler window, the task's own hooks) is a
hook; the loop itself only dispatches, polls the signal flags and asks which hooks are due.
"""

import contextlib
import logging
import sys
import time
import traceback
from typing import Any

import equinox as eqx
import jax

from xaxengine.config import config_to_dict
from xaxengine.data.loader import Loader
from xaxengine.data.sources import open_train_loader
from xaxengine.data.valid_batches import open_valid_batches
from xaxengine.exit_codes import EXIT_FAILED, exit_code_for_signal
from xaxengine.launch_config import RunOptions
from xaxengine.protocol import Kind, State
from xaxengine.rank_stats import RankStatsReader, write_rank_stats
from xaxengine.runs import STDOUT_FILE, STOP_REASON_FILE, RunLock
from xaxengine.task.bucketed_step import BucketedStep
from xaxengine.task.mixins.checkpointing import CheckpointSaveError
from xaxengine.task.mixins.compile import compile_step, configure_compilation
from xaxengine.task.mixins.cpu_stats import CPUStats, StatsSampler
from xaxengine.task.mixins.gpu_stats import GPUStats
from xaxengine.task.mixins.hooks import Hook, HookFn, HookRegistry
from xaxengine.task.mixins.profiling import (
    ProfilerTrace,
    compiled_cost,
    compiled_memory,
    configure_debugging,
    peak_flops,
    trace_window,
)
from xaxengine.task.mixins.sharding import make_placement
from xaxengine.task.mixins.step_context import StepTimer
from xaxengine.task.mixins.stopping import BestCheckpoint, EarlyStop, FinishRequest, time_budget_hook
from xaxengine.task.mixins.supervised import (
    accumulating_train_step,
    zero_sums,
)
from xaxengine.task.mixins.train import TrainState
from xaxengine.task.mixins.train_step import (
    check_hooks_per_call,
    dtype_policy,
    scanned_steps,
    train_step_flops,
)
from xaxengine.task.run_context import LoopState, RunContext, StepsInFlight
from xaxengine.task.run_setup import (
    QuietBackgroundErrors,
    TrainableTask,
    emit_run_start,
    initial_state,
    warn_if_disk_is_low,
)
from xaxengine.task.train_log import NonFiniteLossError, PendingLog, TrainLog
from xaxengine.task.validator import Validator
from xaxengine.threads import set_background_nice

logger = logging.getLogger("xaxengine")


class Trainer:
    """Trains one task in this process (one rank of a multi-process job): supervised, or with its own train step."""

    def __init__(self, task: TrainableTask, options: RunOptions, registry: HookRegistry | None = None) -> None:
        """Binds the trainer to a task; nothing is written until :meth:`run`.

        Args:
            task: The task (its hooks and services).
            options: How the run was started.
            registry: The hook registry (tests inject one with a fake clock); a new one by default.
        """
        self.task, self.config = task, task.config
        self.ctx = RunContext(options=options)
        self.hooks = registry or HookRegistry()
        self.cpu_stats, self.gpu_stats = CPUStats(), GPUStats(self.config.gpu_stats.enabled)
        self._rank_stats: RankStatsReader | None = None
        self.loader: Loader | None = None
        self.finish = FinishRequest()
        self.after_validation: list[HookFn] = []  # early stop and keep_best: they see every validation once
        self.best_checkpoint: BestCheckpoint | None = None

    def run(self) -> int:
        """Trains, writing the run directory; returns the exit code (0, 1, 130 or 143)."""
        task, options = self.task, self.ctx.options
        set_background_nice(self.config.process.background_nice)  # before the logger and sampler threads start
        task.prepare_run_dir(options.resume_dir)
        lock = RunLock(task.run_dir)
        primary = jax.process_index() == 0  # only process 0 holds the lock and writes config and events
        if primary:
            lock.acquire()
        task.open_loggers(options.events_to_stdout, self.config.train.max_steps)
        if primary:
            task.write_resolved_config()
        if self.config.process.handle_signals:
            self.ctx.signals.install()
        configure_compilation(self.config.compile)
        configure_debugging(self.config.profile)
        self.ctx.started = time.monotonic()
        self.trace = ProfilerTrace(task.run_dir, task.bus.emit)
        task.emit_status(State.STARTING, 0)
        stats = self.config.stats
        sampler = StatsSampler(self.emit_stats, stats.interval_s) if stats.enabled else None
        quiet = QuietBackgroundErrors()
        try:
            launch = self.config.launch
            self.ctx.placement = make_placement(
                launch.layout, launch.num_devices, launch.fsdp, launch.fsdp_min_size, self.config.data.batch_size
            )
            placement = self.ctx.placement
            state, static, optimizer, loader_state, restored_step = initial_state(task, options, placement)
            emit_run_start(task, placement.layout, placement.devices, self.config.train.max_steps, restored_step)
            warn_if_disk_is_low(task, state)
            if sampler is not None:
                self.emit_stats()
                if self.gpu_stats.nvml_error:
                    task.log_message("info", self.gpu_stats.nvml_error)
                sampler.start()
            return self._train(state, static, optimizer, loader_state)
        except Exception as error:
            return self._fail(error)
        finally:
            if sampler is not None:
                sampler.stop()
            quiet.restore()
            self.trace.finish(None)  # a trace window cut short by the end of training, a stop or a failure
            if self.loader is not None:
                self.loader.close()
            task.close_checkpoints()
            if self.best_checkpoint is not None:
                self.best_checkpoint.close()
            task.close_loggers()
            lock.release()

    def _fail(self, error: Exception) -> int:
        task = self.task
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        if isinstance(error, CheckpointSaveError):
            reason = f"{error}; last good checkpoint: step {error.last_good}"
            self.ctx.step = error.last_good or 0
        with contextlib.suppress(OSError), open(task.run_dir / STDOUT_FILE, "a") as f:  # a full disk: say it anyway
            f.write(traceback.format_exc())
        if isinstance(error, NonFiniteLossError):
            self.ctx.step = error.last_good_step
        task.emit_status(State.FAILED, self.ctx.step, reason=reason)
        message = f"run failed at step {self.ctx.step}: {reason} (traceback in {task.run_dir / STDOUT_FILE})"
        logger.error(message)
        if not self.ctx.options.events_to_stdout:  # human logs went to stdout; the failure belongs on stderr too
            sys.stderr.write(f"xaxengine: error: {message}\n")
        return EXIT_FAILED

    def emit_stats(self) -> None:
        """Samples CPU and GPU statistics and emits ``stats`` events (called by the sampler thread).

        On the Grain path ``data`` holds the worker pool's rate, busy share and queue depth (``docs/protocol.md``).
        In multi-process runs, ranks other than 0 write their sample to ``RUN_DIR/.stats/`` instead, and rank 0 emits
        one event per rank (``process`` = rank) from those files.
        """
        sample = {**self.cpu_stats.sample(), "gpus": self.gpu_stats.sample()}
        pool = self.loader.pool_stats() if self.loader is not None else None
        if pool is not None:
            sample["data"] = pool
        rank = jax.process_index()
        if rank:
            write_rank_stats(self.task.run_dir, rank, sample)
            return
        self.task.bus.emit(Kind.STATS, **sample, process=0)
        self._rank_stats = self._rank_stats or RankStatsReader(self.task.run_dir)
        for other, stats in self._rank_stats.fresh():
            self.task.bus.emit(Kind.STATS, **stats, process=other)

    def compile(self, name: str, fn: Any, args: tuple[Any, ...], donate_argnums: tuple[int, ...] = ()) -> Any:
        """Compiles a step function and emits a ``compile`` event (seconds, per-device FLOPs, the device's peak)."""
        step_fn, compiled, seconds = compile_step(fn, args, donate_argnums, self.config.compile.donate_buffers)
        cost = compiled_cost(compiled)
        extra: dict[str, Any] = {}
        if name == "train_step":
            self.ctx.step_flops, self.ctx.compile_s = train_step_flops(cost["flops"], self.config.train), seconds
            extra["dtype_policy"] = dtype_policy(self.config.train.precision)
        self.ctx.peak_flops = peak_flops(self.config.profile)
        self.task.bus.emit(
            Kind.COMPILE,
            name=name,
            compile_s=seconds,
            **cost,
            **compiled_memory(compiled),
            peak_flops=self.ctx.peak_flops,
            device_kind=jax.devices()[0].device_kind,
            num_devices=len(self.ctx.placement.devices),
            **extra,
        )
        flops = f", {cost['flops']:.3g} FLOPs per call" if cost["flops"] else ""
        self.task.log_message("info", f"compiled the {name} in {seconds:.2f}s{flops}")
        return step_fn

    def _train(self, state: TrainState, static: Any, optimizer: Any, loader_state: dict[str, Any]) -> int:
        task, ctx, placement = self.task, self.ctx, self.ctx.placement
        ctx.step = int(state.step)
        with ctx.timer.phase("data"):
            task.log_message("info", "loading datasets")
            seed, steps_left = self.config.train.seed, self.config.train.max_steps - ctx.step
            self.loader = loader = open_train_loader(task, placement, seed, loader_state, steps_left)
            valid = open_valid_batches(task, placement, seed) if task.validates() else None
        state = placement.put_state(state)
        task.log_message("info", placement.describe(state))
        if self._agreed_stop_signal():
            return self._interrupt(state, loader.get_state())

        task.emit_status(State.COMPILING, ctx.step)
        loop, step_fn = self._compile_train_step(state, static, optimizer, loader)
        self.validator = Validator(task, placement, self.compile, static, valid) if valid is not None else None
        # Host clocks around the data and step calls; with the breakdown off they are a C builtin returning 0.
        self.train_log = TrainLog(task, ctx, time.perf_counter if self.config.profile.timing else int)
        self.train_log.sums.compile(loop.sums)
        self._register_hooks()
        task.emit_status(State.RUNNING, ctx.step)
        return self._loop(loop, step_fn, loader)

    def _compile_train_step(
        self, state: TrainState, static: Any, optimizer: Any, loader: Loader
    ) -> tuple[LoopState, Any]:
        """Compiles the accumulating train step over the loop state; returns the first loop state and the step.

        One call runs ``train.steps_per_call`` optimizer steps (see :mod:`xaxengine.task.mixins.train_step`).
        """
        cfg, placement = self.config.train, self.ctx.placement
        update = self.task.make_train_update(
            static,
            optimizer,
            skip_nonfinite=cfg.nan_policy == "skip_step",
            grad_norm_every=cfg.log_every_n_steps,
            grad_accum_steps=cfg.grad_accum_steps,
            precision=cfg.precision,
        )
        data = loader.example()
        shapes = {name: s.shape for name, s in jax.eval_shape(update, state, *data)[1].items()}
        loop = LoopState(train=state, sums=placement.replicate(zero_sums(shapes)), static=static, optimizer=optimizer)
        accumulate = scanned_steps(accumulating_train_step(update), cfg.steps_per_call)
        self.loop_tree = jax.tree.structure(loop)

        def train_step(leaves: list[Any], *data: Any) -> tuple[list[Any], Any]:  # the name XLA and profiles show
            loop = jax.tree.unflatten(self.loop_tree, leaves)
            train, sums = accumulate(loop.train, loop.sums, *data)
            new = LoopState(train=train, sums=sums, static=loop.static, optimizer=loop.optimizer)
            # The step number again, as an output that is not donated onward: the loop waits on it to bound how
            # far the host runs ahead of the device (see _loop).
            return jax.tree.leaves(new), train.step + 0

        # The step takes and returns the loop state's leaves as a flat list: jax then flattens the call's arguments
        # in C++, where a tree of equinox modules costs a Python callback per module in and out, every step.
        leaves = jax.tree.leaves(loop)
        out_shardings = placement.state_shardings((leaves, state.step))
        constrained = placement.constrain(train_step, out_shardings)
        step_fn = self.compile("train_step", constrained, (leaves, *data), (0,))
        if self.config.data.bucket_by:
            compile_for = lambda name, args: self.compile(name, constrained, args, (0,))  # noqa: E731
            step_fn = BucketedStep(self.config.data.bucket_by, step_fn, data, compile_for)
        return loop, step_fn

    def _register_hooks(self) -> None:
        """The engine's own hooks, in the order they run after a step, then the task's (:meth:`get_hooks`)."""
        cfg, ckpt, hooks = self.config.train, self.config.checkpoint, self.hooks
        self.log_hook = hooks.add(Hook(self._log_train, every_n_steps=cfg.log_every_n_steps, at_end=True))
        if (cfg.valid_every_n_steps or cfg.valid_every_n_seconds) and self.validator is not None:
            hooks.add(
                Hook(
                    self._validate,
                    every_n_steps=cfg.valid_every_n_steps,
                    every_n_seconds=cfg.valid_every_n_seconds,
                    at_end=True,
                )
            )
            self._add_validation_listeners()
        if cfg.max_seconds:
            hooks.add(time_budget_hook(cfg.max_seconds, self.finish))
        if cfg.log_heavy_every_n_steps:
            hooks.add(Hook(self._log_heavy, every_n_steps=cfg.log_heavy_every_n_steps, at_end=True))
        window = trace_window(self.config.profile, self.ctx.step)
        if window is not None:
            self.trace_at = window
            hooks.add(Hook(self._profile, at_steps=window, name="profiler window"))
        task_hooks = self.task.get_hooks()
        check_hooks_per_call(cfg.steps_per_call, task_hooks, self.ctx.step)
        for hook in task_hooks:
            hooks.add(hook)
        self.save_hook = hooks.add(
            Hook(
                lambda *_: None,  # the loop saves after every other hook ran (see _after_step)
                every_n_steps=ckpt.save_every_n_steps,
                every_n_seconds=ckpt.save_every_n_seconds,
                at_end=bool(ckpt.save_every_n_steps),
                name="checkpoint",
            )
        )
        if window is not None and window[0] == self.ctx.step:  # a window opening at the first step opens now
            self._profile(self.ctx.step, None, {})
        hooks.start(self.ctx.step)

    def _loop(self, loop: LoopState, step_fn: Any, loader: Loader) -> int:
        """Steps until ``max_steps`` or a stop signal, walking the due hooks after each step."""
        ctx, max_steps = self.ctx, self.config.train.max_steps
        next_data, signals = loader.next, ctx.signals
        clock = self.train_log.clock
        ctx.timer = timer = StepTimer(ctx.step)
        data_s = step_s = 0.0
        in_flight = StepsInFlight(self.config.train.max_steps_in_flight, self.config.train.dispatch_ahead_s)
        steps_per_call, tree = self.config.train.steps_per_call, self.loop_tree
        leaves = jax.tree.leaves(loop)
        # A train log due alone is written after the next dispatch, so the device runs that step meanwhile instead of
        # idling through the host's log work (multi-process runs agree on signals at log boundaries: not there).
        pending: PendingLog | None = None
        defer_logs = not ctx.placement.multi_process
        while ctx.step < max_steps:
            t0 = clock()
            data = next_data()
            t1 = clock()
            leaves, done = step_fn(leaves, *data)
            in_flight.add(done)  # a bounded queue: a stop lands within its depth
            step_s += clock() - t1
            data_s += t1 - t0
            if pending is not None:  # the log closes its interval after this dispatch: the dispatch is in it
                timer.add(data_s, step_s)
                data_s = step_s = 0.0
                self.train_log.finish(pending)
                pending = None
            ctx.step += steps_per_call
            last = ctx.step == max_steps
            due = self.hooks.due(ctx.step, last)
            if not due and signals.idle():
                continue
            timer.add(data_s, step_s)
            data_s = step_s = 0.0
            self.loop = jax.tree.unflatten(tree, leaves)
            if defer_logs and len(due) == 1 and due[0] is self.log_hook and not last and signals.idle():
                self.loop, pending = self.train_log.start(ctx.step, self.loop)
                self.hooks.ran(self.log_hook)
            elif (outcome := self._after_step(due, last)) is not None:
                return outcome
            leaves = jax.tree.leaves(self.loop)  # the train log swaps in fresh metric sums
        self.task.finish_pending_save()
        self.trace.finish(jax.tree.unflatten(tree, leaves).train)
        self.task.emit_status(State.FINISHED, ctx.step)
        return 0

    def _after_step(self, due: list[Hook], last: bool) -> int | None:
        """Runs the due hooks, then stops or checkpoints; returns the exit code when the run stops."""
        ctx = self.ctx
        stop, save = self._control(due, last)
        if (stop or save) and self.log_hook not in due:  # never save or stop on metrics nobody checked
            due.insert(0, self.log_hook)
        model = None
        for hook in due:
            if hook is self.save_hook:
                continue
            if model is None:
                model = eqx.combine(self.loop.train.params, self.loop.static)
            hook.fn(ctx.step, model, ctx.metrics)
            self.hooks.ran(hook)
        if stop:
            return self._interrupt(self.loop.train, self._loader_state())
        if self.finish.reason is not None:
            if self.log_hook not in due:
                self.log_hook.fn(ctx.step, model, ctx.metrics)
            return self._finish_early(self.finish.reason)
        if save:
            ctx.signals.checkpoint_requested = False
            self.hooks.ran(self.save_hook)
            with ctx.timer.phase("checkpoint"):
                self.task.save_checkpoint(ctx.step, self.loop.train, self._checkpoint_meta(self._loader_state()))
        return None

    def _agreed_stop_signal(self) -> int:
        """The stop signal, agreed on by every process (any process's signal stops them all)."""
        signals = self.ctx.signals
        signum = self.ctx.placement.agree([signals.stop_signal or 0])[0]
        if signum:
            signals.stop_signal = signum
        return signum

    def _control(self, due: list[Hook], last: bool) -> tuple[bool, bool]:
        """Whether to stop and whether to checkpoint now: the same answer on every process.

        In one process the flags are read every step. In multi-process runs, signals and time- or request-based
        checkpoints are agreed on at log boundaries (one tiny all-gather), so a stop takes effect within
        ``log_every_n_steps`` steps; step-based checkpoints need no agreement.
        """
        signals, step = self.ctx.signals, self.ctx.step
        save_due = self.save_hook in due
        if not self.ctx.placement.multi_process:
            return signals.stop_signal is not None, save_due or signals.checkpoint_requested
        scheduled = save_due and not self.hooks.by_seconds_only(self.save_hook, step, last)
        if not (last or self.log_hook in due):
            return False, scheduled
        wanted = int(save_due or signals.checkpoint_requested)
        signum, requested = self.ctx.placement.agree([signals.stop_signal or 0, wanted])
        if signum:
            signals.stop_signal = signum
        return bool(signum), scheduled or bool(requested)

    def _log_train(self, step: int, model: Any, metrics: Any) -> None:
        del model, metrics
        self.loop = self.train_log(step, self.loop)

    def _add_validation_listeners(self) -> None:
        """Early stopping and the best checkpoint, run after each validation."""
        stop, ckpt = self.config.train.early_stop, self.config.checkpoint
        if stop.metric:
            self.after_validation.append(EarlyStop(stop.metric, stop.mode, stop.patience, stop.min_delta, self.finish))
        if ckpt.keep_best:
            self.best_checkpoint = BestCheckpoint(
                self.task.run_dir,
                ckpt.keep_best,
                ckpt.keep_best_mode,
                lambda: (self.loop.train, self._checkpoint_meta(self._loader_state())),
                ckpt.async_save,
            )
            self.after_validation.append(self.best_checkpoint)

    def _validate(self, step: int, model: Any, metrics: Any) -> None:
        del metrics
        with self.ctx.timer.phase("valid"):
            assert self.validator is not None  # registered only when the task validates
            means = self.validator.run(self._eval_params(), step)
            self.task.log_scalars(step, "valid", means, elapsed_s=self.ctx.elapsed())
            self.ctx.remember("valid", means)
        for listener in self.after_validation:
            listener(step, model, self.ctx.metrics)

    def _eval_params(self) -> Any:
        """The weights validation and ``log_heavy`` see: the EMA under ``train.eval_with_ema``, else the params."""
        train = self.loop.train
        return train.ema if self.config.train.eval_with_ema else train.params

    def _log_heavy(self, step: int, model: Any, metrics: Any) -> None:
        del metrics
        if self.config.train.eval_with_ema:
            model = eqx.combine(self._eval_params(), self.loop.static)
        final = step >= self.config.train.max_steps
        self.task.emit_busy("final log_heavy" if final else "log_heavy", step)  # the TUI's header says so
        try:
            with self.ctx.timer.phase("log"):
                self.task.log_heavy(model, self.validator.host_batch() if self.validator else {}, step)
        finally:
            self.task.emit_busy(None, step)

    def _profile(self, step: int, model: Any, metrics: Any) -> None:
        """Opens the trace window at its first step and closes it at its last."""
        del metrics
        first, last = self.trace_at
        with self.ctx.timer.phase("profile"):
            if step == first:
                self.trace.start(first, last)
            elif step == last:
                self.trace.finish(model)

    def _loader_state(self) -> dict[str, Any]:
        assert self.loader is not None  # the loop runs only once the loader is open
        return self.loader.get_state()

    def _checkpoint_meta(self, loader_state: dict[str, Any]) -> dict[str, Any]:
        return {
            "loader": {**loader_state, "seed": self.config.train.seed},
            "config": config_to_dict(self.config),
            "task": self.task.task_spec(),
        }

    def _finish_early(self, reason: str) -> int:
        """Ends the run ``finished`` before ``max_steps`` (early stop, time budget), with a checkpoint."""
        task, step = self.task, self.ctx.step
        task.log_message("info", f"finishing at step {step}: {reason}")
        task.save_checkpoint(step, self.loop.train, self._checkpoint_meta(self._loader_state()))
        task.finish_pending_save()
        self.trace.finish(self.loop.train)
        task.emit_status(State.FINISHED, step, reason=reason)
        return 0

    def _interrupt(self, state: TrainState, loader_state: dict[str, Any]) -> int:
        task, step = self.task, self.ctx.step
        signum = self.ctx.signals.stop_signal or 0
        reason = f"signal {signum}"
        with contextlib.suppress(OSError):
            reason = (task.run_dir / STOP_REASON_FILE).read_text().strip()[:200] or reason
            (task.run_dir / STOP_REASON_FILE).unlink()
        task.emit_status(State.STOPPING, step, reason=reason)
        if step > 0:
            task.save_checkpoint(step, state, self._checkpoint_meta(loader_state))
            task.finish_pending_save()
        task.emit_status(State.INTERRUPTED, step, reason=reason)
        return exit_code_for_signal(signum)
