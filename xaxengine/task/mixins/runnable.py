"""Runnable: how a task is started, from the CLI or from Python."""

from xaxengine.launch_config import RunOptions
from xaxengine.task.mixins.base import BaseTask


class RunnableMixin[ConfigT](BaseTask[ConfigT]):
    """Entry points: ``MyTask.launch(MyConfig(...))`` from Python; the CLI calls ``run``."""

    @classmethod
    def launch(cls, config: ConfigT, options: RunOptions | None = None) -> int:
        """Builds the task from a config and runs it in this process; returns the exit code."""
        task = cls(config)
        return task.run(options or RunOptions())

    @classmethod
    def main(cls, argv: list[str] | None = None) -> int:
        """``python -m my_module [section.field=value ...] [flags]``: runs the task from its config class defaults.

        Takes the same dotted overrides and flags as ``xaxengine run`` (``--runs-dir``, ``--layout``,
        ``--profile-steps``, ``--resume`` ...). In a task module:
        ``if __name__ == "__main__": raise SystemExit(MyTask.main())``.
        """
        from xaxengine.cli import run_task_main

        return run_task_main(cls, argv)

    def run(self, options: RunOptions) -> int:
        """Trains; returns the process exit code. Implemented by the composed task."""
        raise NotImplementedError
