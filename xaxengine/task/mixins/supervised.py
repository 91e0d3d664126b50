"""Supervised learning: the user hooks and the pure train/eval step functions built from them.

The train step runs forward, loss, gradients, the optimizer update and metric accumulation in one jitted call.
Metrics are summed on the device and fetched only when logged, so the loop never waits on the device per step.
Non-finite steps are counted on the device (with the first bad step); the loop checks the count before every log
and checkpoint, so garbage is never saved. Under ``nan_policy = "skip_step"`` such an update is also dropped (the
state stays the last good one), at the cost of a select over the whole state per step.
"""

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from xaxengine.config.sections import Config
from xaxengine.task.mixins.checkpointing import CheckpointingMixin
from xaxengine.task.mixins.dataloaders import DataloadersMixin, gather
from xaxengine.task.mixins.step_context import StepState
from xaxengine.task.mixins.train import NamedOptimizers, Optimizers, TrainMixin, TrainState, step_key
from xaxengine.task.mixins.train_step import (
    Precision,
    accumulated_grads,
    cast_floats,
    compute_dtype,
    update_ema,
)

Batch = Any
Metrics = dict[str, Array]

LOSS = "loss"
COUNT = "_count"
NONFINITE = "_nonfinite"
FIRST_BAD_STEP = "_first_bad_step"
GRAD_NORM = "grad_norm"
GRAD_NORM_MEASURED = "_grad_norm_measured"
RESERVED = (COUNT, NONFINITE, FIRST_BAD_STEP)


class SupervisedMixin[ConfigT: Config](TrainMixin[ConfigT], CheckpointingMixin[ConfigT], DataloadersMixin[ConfigT]):
    """The hooks of a supervised task over the engine's services; the step functions call them under ``jax.jit``."""

    @abc.abstractmethod
    def get_output(self, model: PyTree, batch: Batch, state: StepState, key: PRNGKeyArray) -> Any:
        """Runs the model on a batch. Users implement this."""

    @abc.abstractmethod
    def compute_loss(
        self, model: PyTree, batch: Batch, output: Any, state: StepState, key: PRNGKeyArray
    ) -> Float[Array, ""]:
        """Returns the scalar loss to minimize. Users implement this."""

    def compute_metrics(
        self, model: PyTree, batch: Batch, output: Any, loss: Float[Array, ""], state: StepState
    ) -> dict[str, Float[Array, ""]]:
        """Returns extra scalar metrics for a batch (averaged over the batches between logs)."""
        del model, batch, output, loss, state
        return {}

    def validates(self) -> bool:
        """Whether validation has a step to run: always, from ``get_output`` and ``compute_loss``."""
        return True

    def log_valid_step(
        self, model: PyTree, batch: dict[str, np.ndarray], output: Any, metrics: dict[str, float], step: int
    ) -> None:
        """Sees the first validation batch of each validation: the batch, the model's output and the batch's metrics.

        All on the host (numpy; ``metrics`` as floats, ``loss`` included), after the validation's means are logged;
        log predictions here (``log_labeled_images``, ``log_text``). Overriding it costs one extra forward pass on
        that batch per validation (compiled once, as ``valid_outputs``); without an override nothing runs.
        """
        del model, batch, output, metrics, step

    def compute_gradients(self, model: PyTree, batch: dict[str, np.ndarray], step: int) -> PyTree:
        """Gradients of the training loss on a host batch, for ``log_heavy`` (histograms of grads).

        Compiled once per batch shape and cached; the training step itself is untouched.
        """
        device_batch = {k: jnp.asarray(v) for k, v in batch.items()}
        return _loss_gradients(self, model, device_batch, jax.random.PRNGKey(step), jnp.asarray(step, jnp.int32))

    def make_train_update(
        self,
        static: PyTree,
        optimizer: Optimizers,
        skip_nonfinite: bool,
        grad_norm_every: int = 1,
        grad_accum_steps: int = 1,
        precision: Precision = "fp32",
    ) -> Callable[..., tuple[TrainState, Metrics, Array]]:
        """Builds ``update(state, columns, idx) -> (state, metrics, finite)`` for one optimizer step.

        The global gradient norm is a full extra pass over the gradients (about 9% of a small MLP's step on CPU), so
        unless every update must be checked (``skip_nonfinite``) it is computed only on the last step of each
        ``grad_norm_every`` window, under a ``lax.cond``; other steps check the loss alone (non-finite gradients
        poison the parameters, so the next loss shows them). ``grad_accum_steps`` and ``precision`` are described
        in :mod:`xaxengine.task.mixins.train_step`.
        """
        if isinstance(optimizer, NamedOptimizers):
            raise ValueError(
                f"{type(self).__name__}.get_optimizer returned a dict, but a SupervisedTask trains one model with one "
                "optimizer (use optax.multi_transform for per-part settings, or a Task with its own train_step)"
            )
        dtype, ema_decay = compute_dtype(precision), self.config.train.ema_decay

        def train_update(
            state: TrainState, columns: dict[str, Array], idx: Array | None
        ) -> tuple[TrainState, Metrics, Array]:
            output_key, loss_key = jax.random.split(step_key(state))
            ctx = StepState(step=state.step, phase="train")

            def grad_fn(params: PyTree, batch: Batch, keys: tuple[Array, ...]) -> tuple[Array, PyTree, Metrics]:
                output_key, loss_key = keys

                def loss_fn(params: PyTree) -> tuple[Array, Any]:
                    model = eqx.combine(cast_floats(params, dtype), static)
                    output = self.get_output(model, cast_floats(batch, dtype), ctx, output_key)
                    output = cast_floats(output, jnp.float32)  # the loss and its softmax run in fp32
                    return self.compute_loss(model, batch, output, ctx, loss_key), output

                (loss, output), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
                model = eqx.combine(params, static)
                metrics = self.compute_metrics(model, batch, jax.lax.stop_gradient(output), loss, ctx)
                return loss, grads, metrics

            batch = gather(columns, idx)
            loss, grads, metrics = accumulated_grads(
                grad_fn, state.params, batch, (output_key, loss_key), grad_accum_steps
            )
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            params = eqx.apply_updates(state.params, updates)
            if skip_nonfinite or grad_norm_every <= 1:
                measured, grad_norm = jnp.ones((), bool), optax.global_norm(grads)
            else:
                measured = (state.step + 1) % grad_norm_every == 0
                grad_norm = jax.lax.cond(
                    measured, lambda g: optax.global_norm(g).astype(jnp.float32), lambda _: jnp.zeros(()), grads
                )
            finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
            ema = update_ema(state.ema, params, ema_decay)
            if skip_nonfinite:
                params, opt_state, ema = jax.tree.map(
                    lambda new, old: jnp.where(finite, new, old),
                    (params, opt_state, ema),
                    (state.params, state.opt_state, state.ema),
                )
            new_state = TrainState(step=state.step + 1, params=params, opt_state=opt_state, key=state.key, ema=ema)
            metrics = {LOSS: loss, GRAD_NORM: grad_norm, GRAD_NORM_MEASURED: measured, **metrics}
            return new_state, metrics, finite

        return train_update

    def make_eval_outputs(self, static: PyTree) -> Callable[..., tuple[Any, Metrics]]:
        """Builds ``outputs(params, columns, idx, key, step) -> (output, metrics)`` of one validation batch."""

        def eval_outputs(
            params: PyTree, columns: dict[str, Array], idx: Array | None, key: PRNGKeyArray, step: Array
        ) -> tuple[Any, Metrics]:
            batch = gather(columns, idx)
            ctx = StepState(step=step, phase="valid")
            output_key, loss_key = jax.random.split(key)
            model = eqx.combine(params, static)
            output = self.get_output(model, batch, ctx, output_key)
            loss = self.compute_loss(model, batch, output, ctx, loss_key)
            return output, {LOSS: loss, **self.compute_metrics(model, batch, output, loss, ctx)}

        return eval_outputs

    def make_eval_update(self, static: PyTree) -> Callable[..., tuple[Metrics, Array]]:
        """Builds ``evaluate(params, columns, idx, key, step) -> (metrics, finite)`` for one validation batch."""
        outputs = self.make_eval_outputs(static)

        def eval_update(
            params: PyTree, columns: dict[str, Array], idx: Array, key: PRNGKeyArray, step: Array
        ) -> tuple[Metrics, Array]:
            metrics = outputs(params, columns, idx, key, step)[1]
            return metrics, jnp.isfinite(metrics[LOSS])

        return eval_update


@eqx.filter_jit
def _loss_gradients(
    task: SupervisedMixin[Any], model: PyTree, batch: dict[str, Array], key: PRNGKeyArray, step: Array
) -> PyTree:
    ctx = StepState(step=step, phase="train")
    output_key, loss_key = jax.random.split(key)

    def loss_fn(m: PyTree) -> Array:
        return task.compute_loss(m, batch, task.get_output(m, batch, ctx, output_key), ctx, loss_key)

    return eqx.filter_grad(loss_fn)(model)


def accumulating_train_step(
    update: Callable[..., tuple[TrainState, Metrics, Array]],
) -> Callable[..., tuple[TrainState, Metrics]]:
    """Wraps a train update into ``step(state, sums, columns, idx) -> (state, sums)``."""

    def train_step(
        state: TrainState, sums: Metrics, columns: dict[str, Array], idx: Array | None
    ) -> tuple[TrainState, Metrics]:
        new_state, metrics, finite = update(state, columns, idx)
        return new_state, accumulate(sums, metrics, finite, state.step)

    return train_step


def accumulating_eval_step(update: Callable[..., tuple[Metrics, Array]]) -> Callable[..., Metrics]:
    """Wraps an eval update into ``step(params, sums, columns, idx, key, step) -> sums``."""

    def eval_step(
        params: PyTree, sums: Metrics, columns: dict[str, Array], idx: Array, key: PRNGKeyArray, step: Array
    ) -> Metrics:
        metrics, finite = update(params, columns, idx, key, step)
        return accumulate(sums, metrics, finite, step)

    return eval_step


def accumulate(sums: Metrics, metrics: Metrics, finite: Array, step: Array) -> Metrics:
    """Adds one step's metrics to the running sums (non-finite steps are counted, not summed).

    Under ``jax_debug_nans`` the values are summed unmasked, so a NaN reaches the step's outputs and jax re-runs
    the step op by op to name the primitive that produced it.
    """
    out = dict(sums)
    unmasked = jax.config.jax_debug_nans
    for name, value in metrics.items():
        as_float = value.astype(jnp.float32)
        if as_float.ndim:  # a non-scalar metric keeps its latest finite value (logged as a histogram)
            out[name] = as_float if unmasked else jnp.where(finite, as_float, sums[name])
            continue
        out[name] = sums[name] + (as_float if unmasked else jnp.where(finite, as_float, 0.0))
    out[COUNT] = sums[COUNT] + finite.astype(jnp.float32)
    out[NONFINITE] = sums[NONFINITE] + (~finite).astype(jnp.float32)
    first_bad = sums[FIRST_BAD_STEP]
    out[FIRST_BAD_STEP] = jnp.where((first_bad < 0) & ~finite, step.astype(jnp.float32), first_bad)
    return out


def zero_sums(names: Sequence[str] | Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Fresh accumulators for the given metric names (or names and shapes: non-scalar metrics keep a latest value).

    They are host arrays: the caller puts them on the devices (``Placement.replicate``), or compiles them into one
    call (the train log's ``SumsTransfer.fresh``), instead of a dispatch per device array at every train log.
    """
    shapes = dict(names) if isinstance(names, Mapping) else dict.fromkeys(names, ())
    sums = {name: np.zeros(shape, np.float32) for name, shape in shapes.items() if name not in RESERVED}
    sums.update({COUNT: np.zeros((), np.float32), NONFINITE: np.zeros((), np.float32)})
    sums[FIRST_BAD_STEP] = np.full((), -1.0, np.float32)
    return sums


def summarize(sums: dict[str, np.ndarray]) -> tuple[dict[str, float], int, int]:
    """Turns fetched sums into means; returns (means, count of non-finite steps, first bad step or -1)."""
    count = float(sums[COUNT])
    means = {
        k: float(v) / count if count else float("nan")
        for k, v in sums.items()
        if not k.startswith("_") and not np.ndim(v)
    }
    if GRAD_NORM_MEASURED in sums:  # sampled metric: averaged over the steps that measured it, omitted if none did
        measured = float(sums[GRAD_NORM_MEASURED])
        means.pop(GRAD_NORM)
        if measured:
            means[GRAD_NORM] = float(sums[GRAD_NORM]) / measured
    return means, int(sums[NONFINITE]), int(sums[FIRST_BAD_STEP])


def non_scalar(sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The non-scalar metrics of fetched sums (their latest values), for histograms."""
    return {k: v for k, v in sums.items() if not k.startswith("_") and np.ndim(v)}
