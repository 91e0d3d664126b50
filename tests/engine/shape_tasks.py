"""Tasks that probe the task API's shape: a periodic user hook, and a task whose config class is only the generic
parameter (no ``config_class`` line)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import xaxengine as xax
from tasks.mnist import MnistConfig, MnistTask


@dataclass(kw_only=True)
class HookedConfig(MnistConfig):
    hook_every: int = xax.field(7, help="Call the recording hook every this many steps.")


class HookedTask(MnistTask, xax.SupervisedTask[HookedConfig]):
    """Records every call of a user hook (step, whether it got a model, the metric names) to an artifact."""

    def get_hooks(self) -> list[xax.Hook]:
        return [xax.Hook(self.record, every_n_steps=self.config.hook_every)]

    def record(self, step: int, model: Any, metrics: Mapping[str, float]) -> None:
        with open(self.artifact_path("hook_calls.jsonl"), "a") as f:
            f.write(json.dumps({"step": step, "model": model is not None, "metrics": sorted(metrics)}) + "\n")


@dataclass(kw_only=True)
class InferredConfig(MnistConfig):
    marker: str = xax.field("default", help="A field only this task's config has.")


class InferredTask(MnistTask, xax.SupervisedTask[InferredConfig]):
    """No ``config_class = InferredConfig``: the generic parameter names it."""
