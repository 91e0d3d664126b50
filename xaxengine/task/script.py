"""``Script``: a task that runs no training loop, only its ``run_script()``, with the engine's run dir and loggers.

For evaluation, export, data preparation, sampling: anything that wants a config from TOML and dotted overrides, a
run directory that ``xaxengine ls``, ``tail`` and the TUI list, and the typed log methods (``log_scalars``,
``log_image``, ``log_video``...)::

    @dataclass(kw_only=True)
    class EvalConfig(xax.Config):
        source_run: str = xax.field("", help="Run to evaluate.")

    class Evaluate(xax.Script[EvalConfig]):
        def run_script(self) -> None:
            model = xax.load_ckpt(self.config.source_run, part="model")
            self.log_scalars(0, "eval", {"accuracy": ...})

It starts like a task (``xaxengine run eval.toml``, ``python -m my_module``, ``Evaluate.launch(config)``) and writes
the same status events: ``starting``, ``running``, then ``finished``, ``failed`` (an exception: its first line as the
reason, the traceback in ``stdout.log``, exit 1) or ``interrupted`` (SIGINT/SIGTERM or ``xaxengine stop``: the
signal interrupts ``run_script`` where it is, exit 130/143; a second signal exits at once).
"""

import abc
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType

import jax

from xaxengine.config.sections import Config
from xaxengine.exit_codes import EXIT_FAILED, exit_code_for_signal
from xaxengine.launch_config import RunOptions
from xaxengine.protocol import Kind, State
from xaxengine.runs import STDOUT_FILE, RunLock
from xaxengine.task.mixins.cpu_stats import CPUStats, StatsSampler
from xaxengine.task.mixins.logger import LoggerMixin
from xaxengine.task.run_setup import emit_run_start

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ScriptStopped(BaseException):
    """Raised inside ``run_script`` by the first SIGINT/SIGTERM (a BaseException, so ``except Exception`` passes it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _exit_now(signum: int, frame: FrameType | None) -> None:
    del frame
    os._exit(exit_code_for_signal(signum))


def _stop(signum: int, frame: FrameType | None) -> None:
    del frame
    for other in STOP_SIGNALS:
        signal.signal(other, _exit_now)  # the second signal exits at once
    raise ScriptStopped(signum)


class Script[ConfigT: Config](LoggerMixin[ConfigT]):
    """A task whose work is :meth:`run_script`; the engine gives it the run dir, events, loggers and status."""

    config_class = Config

    @abc.abstractmethod
    def run_script(self) -> None:
        """Does the work (config: ``self.config``, run dir: ``self.run_dir``). Users implement this."""

    @classmethod
    def launch(cls, config: ConfigT, options: RunOptions | None = None) -> int:
        """Runs the script here (``[launch] layout``); returns the exit code (see ``Task.launch``)."""
        from xaxengine import entry  # the entry layer sits above the task; see the layers contract's ignore

        return entry.launch(cls, config, options or RunOptions())

    @classmethod
    def main(cls, argv: Sequence[str] | None = None) -> int:
        """``python -m my_module [section.field=value ...] [flags]``, as ``Task.main``."""
        from xaxengine import entry  # the entry layer sits above the task; see the layers contract's ignore

        return entry.run_task_main(cls, argv)

    def run(self, options: RunOptions) -> int:
        """Runs :meth:`run_script` in a run directory with status events; returns the exit code (0, 1, 130, 143)."""
        self.prepare_run_dir(options.resume_dir)
        lock = RunLock(self.run_dir)
        lock.acquire()
        self.open_loggers(options.events_to_stdout, None)
        self.write_resolved_config()
        cpu = CPUStats()

        def emit_stats() -> None:
            self.bus.emit(Kind.STATS, **cpu.sample(), gpus=[], process=0)

        sampler = StatsSampler(emit_stats, self.config.stats.interval_s)
        handlers = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        try:
            if self.config.process.handle_signals:  # inside the try: a stop from here on ends the run interrupted
                for signum in STOP_SIGNALS:
                    signal.signal(signum, _stop)
            self.emit_status(State.STARTING, 0)
            emit_run_start(self, self.config.launch.layout, jax.local_devices(), None, None)
            if self.config.stats.enabled:
                sampler.start()
            self.emit_status(State.RUNNING, 0)
            self.run_script()
            self.emit_status(State.FINISHED, 0)
            return 0
        except ScriptStopped as stop:
            self.emit_status(State.INTERRUPTED, 0, reason=str(stop))
            return exit_code_for_signal(stop.signum)
        except Exception as error:
            return self._failed(error, options)
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            if sampler.thread.is_alive():
                sampler.stop()
            self.close_loggers()
            lock.release()

    def _failed(self, error: Exception, options: RunOptions) -> int:
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        with contextlib.suppress(OSError), open(self.run_dir / STDOUT_FILE, "a") as f:
            f.write(traceback.format_exc())
        self.emit_status(State.FAILED, 0, reason=reason)
        if not options.events_to_stdout:
            sys.stderr.write(f"xaxengine: error: script failed: {reason} (traceback in {self.run_dir / STDOUT_FILE})\n")
        return EXIT_FAILED
