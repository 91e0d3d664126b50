"""xaxengine: a JAX/Equinox/Optax training engine. ``import xaxengine as xax`` gives a task author's names.

Every name is loaded on first use (PEP 562), so ``import xaxengine`` and ``import xaxengine.protocol`` stay jax-free
(the TUI and the read-only CLI commands rely on it)::

    import xaxengine as xax

    @dataclass(kw_only=True)
    class MyConfig(xax.SupervisedConfig):
        hidden: int = xax.field(256, help="Hidden width.")

    class MyTask(xax.SupervisedTask[MyConfig]):
        def get_model(self, params: xax.InitParams) -> eqx.Module: ...
"""

import importlib
from typing import Any

_NAMES: dict[str, str] = {
    # tasks and their configs
    "Task": "xaxengine.task.task",
    "SupervisedTask": "xaxengine.task.task",
    "Script": "xaxengine.task.script",
    "Config": "xaxengine.config.sections",
    "SupervisedConfig": "xaxengine.config.sections",
    "TrainConfig": "xaxengine.config.sections",
    "OptimizerConfig": "xaxengine.config.sections",
    "DataConfig": "xaxengine.config.sections",
    "CheckpointConfig": "xaxengine.config.sections",
    "LoggerConfig": "xaxengine.config.sections",
    "WandbConfig": "xaxengine.config.sections",
    "CompileConfig": "xaxengine.config.sections",
    "StatsConfig": "xaxengine.config.sections",
    "GPUStatsConfig": "xaxengine.config.sections",
    "ProcessConfig": "xaxengine.config.sections",
    "ProfileConfig": "xaxengine.config.sections",
    "ArtifactsConfig": "xaxengine.config.sections",
    "LaunchConfig": "xaxengine.launch_config",
    "RunOptions": "xaxengine.launch_config",
    "field": "xaxengine.config.fields",
    "ConfigError": "xaxengine.config.fields",
    "load_run_spec": "xaxengine.config.build",
    # what the hooks receive and return
    "InitParams": "xaxengine.task.mixins.train",
    "TrainState": "xaxengine.task.mixins.train",
    "build_optimizer": "xaxengine.task.mixins.train",
    "StepState": "xaxengine.task.mixins.step_context",
    "ModelsState": "xaxengine.task.mixins.custom_step",
    "Hook": "xaxengine.task.mixins.hooks",
    # log helpers (the log_* methods themselves are on the task)
    "image_grid": "xaxengine.task.loggers.media",
    "to_uint8_image": "xaxengine.task.loggers.media",
    # running
    "launch": "xaxengine.entry",
    "run_task_main": "xaxengine.entry",
    # a trained run, back without training
    "load_ckpt": "xaxengine.task.load",
    "load_task": "xaxengine.task.load",
}

__all__ = [  # noqa: RUF022 (grouped as in _NAMES)
    "Task",
    "SupervisedTask",
    "Script",
    "Config",
    "SupervisedConfig",
    "TrainConfig",
    "OptimizerConfig",
    "DataConfig",
    "CheckpointConfig",
    "LoggerConfig",
    "WandbConfig",
    "CompileConfig",
    "StatsConfig",
    "GPUStatsConfig",
    "ProcessConfig",
    "ProfileConfig",
    "ArtifactsConfig",
    "LaunchConfig",
    "RunOptions",
    "field",
    "ConfigError",
    "load_run_spec",
    "InitParams",
    "TrainState",
    "build_optimizer",
    "StepState",
    "ModelsState",
    "Hook",
    "image_grid",
    "to_uint8_image",
    "launch",
    "run_task_main",
    "load_ckpt",
    "load_task",
]


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'xaxengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_NAMES})
