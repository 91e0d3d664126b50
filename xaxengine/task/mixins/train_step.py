"""Train step shapes that keep what one optimizer step computes: microbatches, steps per call, dtype policy.

- **Gradient accumulation** (``train.grad_accum_steps = k``): the global batch is split into ``k`` microbatches
  inside the jitted step and a ``lax.scan`` sums their gradients in fp32, so the activations held at once follow the
  microbatch. Every metric is the mean of its microbatch values (the same as the full batch for means, like the loss
  and accuracy; a task's non-mean metric, such as a max, becomes a mean of microbatch maxima).
- **Several steps per call** (``train.steps_per_call = k``): ``k`` optimizer steps run in one compiled call, each on
  its own batch with its own key, their metrics summed into the log accumulators step by step. The host sees only
  every ``k``-th step, so every step cadence must be a multiple of ``k`` (``Config`` refuses the config
  otherwise) and a stop signal lands at the next call boundary.
- **Precision** (``train.precision``): ``"bf16"`` casts the float parameters and inputs to bfloat16 for the forward
  and backward pass while the master weights and the optimizer state stay fp32; ``"bf16_params"`` also stores them
  in bfloat16. The model output is cast back to fp32 before the loss, so the loss and its softmax are fp32.

Both splits order rows the same way (:func:`interleave`, :func:`split_interleaved`): part ``j`` is the rows ``j``,
``j + k``, ``j + 2k``... of the flat array, so a batch sharded by rows keeps each part on the devices holding it.
"""

from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PyTree

from xaxengine.task.mixins.dataloaders import LoaderPosition, TrainBatches

Precision = Literal["fp32", "bf16", "bf16_params"]


def interleave(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Flattens ``k`` equal index batches so that row ``b * k + j`` is row ``b`` of part ``j``."""
    return np.stack(parts, axis=1).reshape(-1)


def split_interleaved(x: Array, k: int) -> Array:
    """The inverse of :func:`interleave` along the first axis: ``(n * k, ...) -> (k, n, ...)``."""
    return x.reshape(x.shape[0] // k, k, *x.shape[1:]).swapaxes(0, 1)


def compute_dtype(precision: Precision) -> jnp.dtype:
    """The dtype the forward and backward pass run in."""
    return jnp.dtype(jnp.float32 if precision == "fp32" else jnp.bfloat16)


def cast_floats(tree: PyTree, dtype: Any) -> PyTree:
    """Casts the floating-point array leaves of ``tree`` to ``dtype`` (integers, keys and non-arrays untouched)."""

    def cast(x: Any) -> Any:
        if isinstance(x, jax.Array | np.ndarray) and jnp.issubdtype(x.dtype, jnp.floating):
            return x.astype(dtype)
        return x

    return jax.tree.map(cast, tree)


def dtype_policy(precision: Precision) -> dict[str, str]:
    """What the compile event reports: the dtypes of the compute, the master weights and the loss."""
    params = "bfloat16" if precision == "bf16_params" else "float32"
    return {"precision": precision, "compute": str(compute_dtype(precision)), "params": params, "loss": "float32"}


def train_step_flops(call_flops: float | None, train: Any) -> float | None:
    """FLOPs of one optimizer step from XLA's count for one call of the compiled step.

    XLA's cost analysis counts a loop body once: a call of ``steps_per_call`` steps reports one step's FLOPs (what
    MFU wants), and a step of ``grad_accum_steps`` microbatches reports one microbatch's (scaled up here).
    """
    return call_flops * train.grad_accum_steps if call_flops else call_flops


def stored_params(params: PyTree, precision: Precision) -> PyTree:
    """The master weights as stored: bfloat16 under ``bf16_params``, else as built (arrays or shape structs)."""
    if precision != "bf16_params":
        return params

    def cast(x: Any) -> Any:
        if isinstance(x, jax.ShapeDtypeStruct) and jnp.issubdtype(x.dtype, jnp.floating):
            return jax.ShapeDtypeStruct(x.shape, jnp.bfloat16, sharding=x.sharding)
        return cast_floats(x, jnp.bfloat16)

    return jax.tree.map(cast, params)


def initial_ema(params: PyTree, decay: float) -> PyTree:
    """The EMA's start: an fp32 copy of the parameters (its own buffers, as the step donates both), or None (off)."""
    if not decay:
        return None
    return jax.tree.map(lambda p: jnp.array(p, dtype=jnp.float32, copy=True), params)


def update_ema(ema: PyTree, params: PyTree, decay: float) -> PyTree:
    """One EMA step towards the new parameters: ``ema * decay + params * (1 - decay)`` in fp32."""
    if ema is None:
        return None
    return jax.tree.map(lambda e, p: e * decay + p.astype(jnp.float32) * (1.0 - decay), ema, params)


GradFn = Callable[[PyTree, Any, tuple[Array, ...]], tuple[Array, PyTree, dict[str, Array]]]


def accumulated_grads(
    grad_fn: GradFn, params: PyTree, batch: Any, keys: tuple[Array, ...], k: int
) -> tuple[Array, PyTree, Any]:
    """Runs ``grad_fn(params, microbatch, keys) -> (loss, grads, metrics)`` over ``k`` microbatches of ``batch``.

    Microbatch ``j`` gets the keys folded with ``j`` (one microbatch: the keys themselves).

    Returns:
        The mean loss, the mean gradients (summed in fp32, returned in the parameters' dtypes) and the mean metrics.
    """
    if k == 1:
        return grad_fn(params, batch, keys)
    micro = jax.tree.map(lambda x: split_interleaved(x, k), batch)
    zero = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)

    def body(carry: tuple[Array, PyTree, Any], xs: tuple[Any, Array]) -> tuple[tuple[Array, PyTree, Any], None]:
        loss_sum, grad_sum, metric_sum = carry
        microbatch, index = xs
        loss, grads, metrics = grad_fn(params, microbatch, tuple(jax.random.fold_in(key, index) for key in keys))
        grad_sum = jax.tree.map(lambda s, g: s + g.astype(jnp.float32), grad_sum, grads)
        metric_sum = jax.tree.map(lambda s, m: s + m.astype(jnp.float32), metric_sum, metrics)
        return (loss_sum + loss.astype(jnp.float32), grad_sum, metric_sum), None

    first = jax.tree.map(lambda x: x[0], micro)
    metric_shapes = jax.eval_shape(grad_fn, params, first, keys)[2]
    metric_zero = jax.tree.map(lambda m: jnp.zeros(m.shape, jnp.float32), metric_shapes)
    init = (jnp.zeros((), jnp.float32), zero, metric_zero)
    (loss_sum, grad_sum, metric_sum), _ = jax.lax.scan(body, init, (micro, jnp.arange(k)))
    grads = jax.tree.map(lambda s, p: (s / k).astype(p.dtype), grad_sum, params)
    metrics = jax.tree.map(lambda s, m: (s / k).astype(m.dtype), metric_sum, metric_shapes)
    return loss_sum / k, grads, metrics


def scanned_steps(step: Callable[..., tuple[Any, Any]], k: int) -> Callable[..., tuple[Any, Any]]:
    """Turns ``step(state, sums, columns, idx) -> (state, sums)`` into one that runs ``k`` steps per call.

    The call's data holds ``k`` batches interleaved (:func:`interleave`): the index batch ``idx`` when the columns are
    on the device, else the host batch in ``columns`` (``idx`` None).
    """
    if k == 1:
        return step

    def steps(state: Any, sums: Any, columns: Any, idx: Array | None) -> tuple[Any, Any]:
        def body(carry: tuple[Any, Any], data: Any) -> tuple[tuple[Any, Any], None]:
            if idx is None:
                return step(*carry, data, None), None
            return step(*carry, columns, data), None

        xs = jax.tree.map(lambda x: split_interleaved(x, k), columns if idx is None else idx)
        (state, sums), _ = jax.lax.scan(body, (state, sums), xs)
        return state, sums

    return steps


class CallBatches:
    """The index batches of one compiled call: ``steps_per_call`` training batches, interleaved.

    ``position`` is the loader position after the last batch handed out (what a checkpoint records).
    """

    def __init__(self, batches: TrainBatches, steps_per_call: int) -> None:
        """Draws ``steps_per_call`` batches from ``batches`` per call."""
        self.batches, self.steps_per_call = batches, steps_per_call

    @property
    def position(self) -> LoaderPosition:
        """The loader position after the batches handed out so far."""
        return self.batches.position

    def example(self) -> np.ndarray:
        """Index operands with the shape of every call's (the first batch of the epoch, repeated); consumes none."""
        first = self.batches.permutation[: self.batches.batch_size]
        return interleave([first] * self.steps_per_call) if self.steps_per_call > 1 else first

    def __iter__(self) -> "CallBatches":
        return self

    def __next__(self) -> np.ndarray:
        if self.steps_per_call == 1:
            return next(self.batches)
        return interleave([next(self.batches) for _ in range(self.steps_per_call)])


def check_hooks_per_call(k: int, hooks: Sequence[Any], start_step: int) -> None:
    """Refuses hooks by steps (a task's own, from ``get_hooks``) that fall inside a compiled call of ``k`` steps.

    The config's own cadences are checked when the config is built (:class:`~xaxengine.config.sections.Config`).

    Raises:
        ValueError: With a one-line message naming the first offending hook.
    """
    for hook in hooks:
        steps = [hook.every_n_steps, *hook.at_steps]
        if any(s % k for s in steps):
            raise ValueError(f"train.steps_per_call={k}: hook {hook.label} runs at steps {steps}, not multiples of it")
    if start_step % k:
        raise ValueError(f"train.steps_per_call={k}: the run resumes at step {start_step}, not a multiple of it")
