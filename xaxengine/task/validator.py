"""Validation: the validation set run through a lazily compiled, accumulating eval step; the means are logged.

A task that overrides ``log_valid_step`` also gets the first batch's output and metrics on the host, from one more
compiled forward pass over that batch (``valid_outputs``) with the same key as the eval step's first batch.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray, PyTree

from xaxengine.data.valid_batches import ValidBatches
from xaxengine.task.mixins.custom_step import CustomStepMixin
from xaxengine.task.mixins.sharding import Placement
from xaxengine.task.mixins.supervised import (
    SupervisedMixin,
    accumulating_eval_step,
    summarize,
    zero_sums,
)

CompileFn = Callable[[str, Any, tuple[Any, ...]], Any]


class Validator:
    """Runs the validation set through a lazily compiled eval step and logs the means."""

    def __init__(
        self,
        task: SupervisedMixin[Any] | CustomStepMixin[Any],
        placement: Placement,
        compile_step: CompileFn,
        static: PyTree,
        batches: ValidBatches,
    ) -> None:
        """Binds the validation set; the eval step is compiled at the first :meth:`run`.

        Args:
            task: The task (its eval update and config).
            placement: Where arrays live.
            compile_step: ``compile_step(name, fn, args) -> step_fn`` (compiles and reports the compile event).
            static: The model's static part.
            batches: The validation set (``xaxengine.data.valid_batches``).
        """
        self.task, self.placement, self.compile_step = task, placement, compile_step
        self.static, self.batches = static, batches
        self.step_fn: Any = None
        self.outputs_fn: Any = None
        self.wants_outputs = isinstance(task, SupervisedMixin) and overrides(task, "log_valid_step")
        self.key = placement.replicate(jax.random.PRNGKey(task.config.train.seed + 1))

    def host_batch(self) -> dict[str, np.ndarray]:
        """The first validation batch on the host, for ``log_heavy``."""
        return self.batches.host_batch()

    def run(self, params: PyTree, step: int) -> dict[str, float]:
        """Evaluates ``params`` on the validation batches; returns the means (the trainer logs them)."""
        update = self.task.make_eval_update(self.static)
        placement = self.placement
        step_array = placement.replicate(jnp.asarray(step, jnp.int32))
        if self.step_fn is None:
            data = self.batches.first()
            names = {
                name: s.shape for name, s in jax.eval_shape(update, params, *data, self.key, step_array)[0].items()
            }
            self.names = names
            sums = placement.replicate(zero_sums(names))
            args = (params, sums, *data, self.key, step_array)
            eval_step = placement.constrain(accumulating_eval_step(update), placement.state_shardings(sums))
            self.step_fn = self.compile_step("eval_step", eval_step, args)
        sums = placement.replicate(zero_sums(self.names))
        for i, data in enumerate(self.batches.operands()):
            key = placement.replicate(jax.random.fold_in(self.key, i))
            sums = self.step_fn(params, sums, *data, key, step_array)
        means, _, _ = summarize(jax.device_get(sums))
        if self.wants_outputs:
            first = self.batches.first()
            self._log_first_batch(params, first, placement.replicate(jax.random.fold_in(self.key, 0)), step_array)
        return means

    def _log_first_batch(self, params: PyTree, data: tuple[Any, ...], key: PRNGKeyArray, step: Array) -> None:
        """Calls the task's ``log_valid_step`` with the first batch, its output and its metrics, on the host."""
        task = self.task
        assert isinstance(task, SupervisedMixin)  # wants_outputs says so
        if self.outputs_fn is None:
            self.outputs_fn = self.compile_step(
                "valid_outputs", task.make_eval_outputs(self.static), (params, *data, key, step)
            )
        output, metrics = self.outputs_fn(params, *data, key, step)
        if self.placement.multi_process:  # rows live on every process: gather the whole batch everywhere
            from jax.experimental import multihost_utils

            output, metrics = multihost_utils.process_allgather((output, metrics), tiled=True)
        output, metrics = jax.device_get((output, metrics))
        model = eqx.combine(params, self.static)
        values = {name: float(np.mean(value)) for name, value in metrics.items()}
        task.log_valid_step(model, self.host_batch(), output, values, int(step))


def overrides(task: object, name: str) -> bool:
    """Whether the task's class (not the engine) defines the hook ``name``."""
    owner = next((c for c in type(task).__mro__ if name in c.__dict__), None)
    return owner is not None and not owner.__module__.startswith("xaxengine.")
