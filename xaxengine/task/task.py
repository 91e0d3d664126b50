"""Task and SupervisedTask: the mixins composed; the trainer runs them.

Users subclass :class:`SupervisedTask` (with a config subclassing :class:`SupervisedConfig`) and implement the
abstract hooks ``get_model``, ``get_output``, ``compute_loss`` and ``get_dataset``; optionally ``get_optimizer``,
``compute_metrics``, ``log_heavy`` and ``get_hooks``. A task whose step is not one loss (GANs, RL, several models)
subclasses :class:`Task` and writes ``train_step`` (and optionally ``valid_step``) instead of ``get_output`` and
``compute_loss``: see :mod:`xaxengine.task.mixins.custom_step`. Everything else on the class belongs to the engine:
a task that shadows an engine name is refused when its class is created.
"""

from collections.abc import Sequence

from xaxengine.config.sections import Config, SupervisedConfig
from xaxengine.launch_config import RunOptions
from xaxengine.task.mixins.custom_step import CustomStepMixin
from xaxengine.task.mixins.supervised import SupervisedMixin
from xaxengine.task.trainer import Trainer

__all__ = ["Config", "SupervisedConfig", "SupervisedTask", "Task"]


class Task[ConfigT: Config](CustomStepMixin[ConfigT]):
    """A task with every engine service: model and optimizer, data, checkpoints, logs and the run directory.

    It trains when it writes ``train_step`` (see :mod:`xaxengine.task.mixins.custom_step`).
    """

    config_class = Config

    @classmethod
    def launch(cls, config: ConfigT, options: RunOptions | None = None) -> int:
        """Runs the task under its ``[launch] layout`` (here, or in the child processes it needs); the exit code.

        Raises:
            ConfigError: A task missing a hook, or a layout the config cannot run.
        """
        from xaxengine import entry  # the entry layer sits above the task; see the layers contract's ignore

        return entry.launch(cls, config, options or RunOptions())

    @classmethod
    def main(cls, argv: Sequence[str] | None = None) -> int:
        """``python -m my_module [section.field=value ...] [flags]``: runs the task from its config class defaults.

        Takes the same dotted overrides and flags as ``xaxengine run`` (``--runs-dir``, ``--layout``,
        ``--profile-steps``, ``--resume`` ...). In a task module:
        ``if __name__ == "__main__": raise SystemExit(MyTask.main())``.
        """
        from xaxengine import entry  # the entry layer sits above the task; see the layers contract's ignore

        return entry.run_task_main(cls, argv)

    @classmethod
    def definition_problem(cls) -> str | None:
        """Why the class cannot run, in one line (checked before anything is written), or None."""
        supervised = issubclass(cls, SupervisedMixin)
        if supervised and cls.has_custom_step():
            return (
                f"{cls.__qualname__} is a SupervisedTask, whose step is built from get_output and compute_loss, so "
                "its train_step would never run; subclass xax.Task for a custom step"
            )
        if not supervised and not cls.has_custom_step() and cls.run is Task.run:
            return (
                f"{cls.__qualname__} has no training loop: write train_step(self, state, batch, key) -> "
                "(state, metrics), or subclass SupervisedTask"
            )
        return None

    def run(self, options: RunOptions) -> int:
        """Trains in this process with a :class:`~xaxengine.task.trainer.Trainer` (what every launcher calls)."""
        return Trainer(self, options).run()


class SupervisedTask[ConfigT: SupervisedConfig](SupervisedMixin[ConfigT], Task[ConfigT]):
    """Supervised training: the user writes the model, loss and data hooks; the trainer does the rest."""

    config_class = SupervisedConfig
