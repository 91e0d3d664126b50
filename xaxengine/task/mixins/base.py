"""The root of every task: the config, the config class inferred from the generic parameter, and two guards.

Guards, both at class creation (so a mistake fails when the task module is imported, not inside the first trace):

- the hooks a task must write are abstract (:func:`abc.abstractmethod`); a task missing one is refused by
  :func:`xaxengine.config.build.check_task_class` (from the CLI, ``launch`` and ``main``) before anything is
  written;
- a task class may override the engine's user hooks (:data:`USER_HOOKS`) but not shadow any other engine name
  (``run_dir``, ``bus``, ``save_checkpoint``...): that is refused with one line naming both.
"""

import abc
import dataclasses
import typing
from typing import Any, ClassVar

from xaxengine.config.sections import Config

USER_HOOKS = frozenset(
    {
        "config_class",
        "get_model",
        "get_optimizer",
        "get_dataset",
        "get_data_iterator",
        "transform",
        "batch_transform",
        "valid_transform",
        "get_output",
        "compute_loss",
        "compute_metrics",
        "log_heavy",
        "get_hooks",
        "train_step",
        "valid_step",
        "log_valid_step",
        "run_script",
    }
)


class TaskDefinitionError(TypeError):
    """A task class that cannot work: a shadowed engine name. ``str(e)`` is one line."""


class BaseTask[ConfigT: Config](abc.ABC):  # noqa: B024 (the mixins declare the abstract hooks)
    """Base of all mixins: holds the resolved config.

    ``config_class`` (the dataclass the TOML loader builds) is inferred from the generic parameter:
    ``class MyTask(SupervisedTask[MyConfig])`` gets ``config_class = MyConfig``; setting it in the class body still
    works and wins.
    """

    config_class: ClassVar[type] = Config

    def __init__(self, config: ConfigT) -> None:
        """Stores the resolved config."""
        self.config = config

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config_class" not in cls.__dict__:
            inferred = _generic_config_class(cls)
            if inferred is not None:
                cls.config_class = inferred
        if not cls.__module__.startswith("xaxengine."):
            _refuse_shadowing(cls)


def _generic_config_class(cls: type) -> type | None:
    """The config dataclass named by ``cls``'s generic base (``SupervisedTask[MyConfig]``), if any."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        for arg in typing.get_args(base):
            if isinstance(arg, type) and dataclasses.is_dataclass(arg):
                return arg
    return None


def engine_names(cls: type) -> dict[str, type]:
    """Every name the engine's classes in ``cls``'s MRO define (methods, attributes, annotations) -> the class."""
    names: dict[str, type] = {}
    for base in reversed(cls.__mro__):
        if base.__module__.startswith("xaxengine."):
            for name in (*vars(base), *vars(base).get("__annotations__", {})):
                if not name.startswith("__"):
                    names[name] = base
    return names


def _refuse_shadowing(cls: type) -> None:
    engine = engine_names(cls)
    own = (*vars(cls), *vars(cls).get("__annotations__", {}))
    for name in own:
        if name.startswith("__") or name in USER_HOOKS or name not in engine:
            continue
        owner = engine[name]
        raise TaskDefinitionError(
            f"{cls.__qualname__}.{name} shadows the engine's {owner.__qualname__}.{name}; rename it "
            f"(a task may override only its hooks: {', '.join(sorted(USER_HOOKS - {'config_class'}))})"
        )
