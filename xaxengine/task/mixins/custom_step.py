"""Custom train steps: a :class:`~xaxengine.task.task.Task` that writes its own ``train_step`` (GANs, RL...).

The task's ``train_step(state, batch, key) -> (state, metrics)`` runs inside the engine's compiled step, so it keeps
the engine's sharding, buffer donation, ``steps_per_call``, checkpoints, signals, EMA and logging. ``state`` is a
:class:`ModelsState`: the step, the models as ``get_model`` built them (one module or a dict of them) and their
optimizer states; :meth:`ModelsState.apply_gradients` runs the matching optimizer (``get_optimizer`` may return a
dict with the same names as the models). Validation runs ``valid_step(models, batch, key) -> metrics`` when the task
defines it.

The step owns its gradients, so ``train.grad_accum_steps`` and ``train.precision`` (which rewrite the supervised
loss's gradient pass) are refused for it, and ``nan_policy = "skip_step"`` drops an update whose metrics are not
all finite.
"""

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Int, PRNGKeyArray, PyTree

from xaxengine.config.sections import Config
from xaxengine.task.mixins.checkpointing import CheckpointingMixin
from xaxengine.task.mixins.dataloaders import DataloadersMixin, gather
from xaxengine.task.mixins.train import Optimizers, TrainMixin, TrainState, step_key
from xaxengine.task.mixins.train_step import Precision, update_ema

Metrics = dict[str, Array]


class ModelsState(eqx.Module):
    """What a custom ``train_step`` receives and returns: the step, the models and their optimizer states.

    ``models`` is what ``get_model`` returned (a module, or a dict of modules by name); ``opt_states`` matches it
    (one state, or a dict by the same names). Return a new state built with :meth:`apply_gradients` or
    ``eqx.tree_at``; the engine advances ``step`` and the key itself.
    """

    step: Int[Array, ""]
    models: PyTree
    opt_states: PyTree
    optimizers: Any = eqx.field(static=True)

    def apply_gradients(self, grads: PyTree, name: str | None = None) -> "ModelsState":
        """One optimizer update of a model from its gradients (``eqx.filter_grad``'s output for that model).

        Args:
            grads: The gradients, shaped like the model's float arrays.
            name: Which model, when ``get_model`` returned a dict; None for a single model.

        Returns:
            The state with that model and its optimizer state updated.

        Raises:
            KeyError: ``name`` is not one of the models (or no name was given for a dict of models).
        """
        optimizer, model, opt_state = self._select(name)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        model = eqx.apply_updates(model, updates)
        if name is None:
            return ModelsState(self.step, model, opt_state, self.optimizers)
        models, opt_states = dict(self.models), dict(self.opt_states)
        models[name], opt_states[name] = model, opt_state
        return ModelsState(self.step, models, opt_states, self.optimizers)

    def _select(self, name: str | None) -> tuple[optax.GradientTransformation, PyTree, PyTree]:
        named = isinstance(self.models, Mapping)
        if named != (name is not None) or (named and name not in self.models):
            known = ", ".join(sorted(self.models)) if named else "none (one model)"
            raise KeyError(f"apply_gradients(name={name!r}): the models are named {known}")
        if name is None:
            return self.optimizers, self.models, self.opt_states
        optimizer = self.optimizers[name] if isinstance(self.optimizers, Mapping) else self.optimizers
        return optimizer, self.models[name], self.opt_states[name]


class CustomStepMixin[ConfigT: Config](TrainMixin[ConfigT], CheckpointingMixin[ConfigT], DataloadersMixin[ConfigT]):
    """The step functions of a task that writes its own ``train_step`` (and optionally ``valid_step``)."""

    def train_step(self, state: ModelsState, batch: dict[str, Array], key: PRNGKeyArray) -> tuple[ModelsState, Metrics]:
        """One optimizer step (or several models' steps) on a batch; returns the new state and scalar metrics.

        Runs under ``jax.jit``. Users implement this in a :class:`~xaxengine.task.task.Task`.
        """
        raise NotImplementedError(f"{type(self).__name__} defines no train_step; write one or subclass SupervisedTask")

    def valid_step(self, models: PyTree, batch: dict[str, Array], key: PRNGKeyArray) -> Metrics:
        """Scalar metrics of the models on one validation batch (averaged over the set); optional.

        Runs under ``jax.jit``. A task without it is not validated.
        """
        raise NotImplementedError

    @classmethod
    def has_custom_step(cls) -> bool:
        """Whether the class writes its own ``train_step``."""
        return cls.train_step is not CustomStepMixin.train_step

    def validates(self) -> bool:
        """Whether validation has a step to run (a custom step task validates only with ``valid_step``)."""
        return type(self).valid_step is not CustomStepMixin.valid_step

    def make_train_update(
        self,
        static: PyTree,
        optimizer: Optimizers,
        skip_nonfinite: bool,
        grad_norm_every: int = 1,
        grad_accum_steps: int = 1,
        precision: Precision = "fp32",
    ) -> Callable[..., tuple[TrainState, Metrics, Array]]:
        """Builds ``update(state, columns, idx) -> (state, metrics, finite)`` around the task's ``train_step``.

        Raises:
            ValueError: ``grad_accum_steps`` or ``precision`` set, which only the supervised step implements.
        """
        del grad_norm_every  # the custom step computes (and logs) its own gradient norms, if it wants them
        if grad_accum_steps != 1 or precision != "fp32":
            raise ValueError(
                f"{type(self).__name__} writes its own train_step, so train.grad_accum_steps={grad_accum_steps} and "
                f"train.precision={precision!r} do not apply; leave them at 1 and 'fp32'"
            )
        ema_decay = self.config.train.ema_decay

        def train_update(
            state: TrainState, columns: dict[str, Array], idx: Array | None
        ) -> tuple[TrainState, Metrics, Array]:
            models = eqx.combine(state.params, static)
            before = ModelsState(step=state.step, models=models, opt_states=state.opt_state, optimizers=optimizer)
            after, metrics = self.train_step(before, gather(columns, idx), step_key(state))
            params = eqx.filter(after.models, eqx.is_inexact_array)
            opt_state = after.opt_states
            scalars = [jnp.all(jnp.isfinite(v)) for v in metrics.values()]
            finite = jnp.all(jnp.stack(scalars)) if scalars else jnp.ones((), bool)
            ema = update_ema(state.ema, params, ema_decay)
            if skip_nonfinite:
                params, opt_state, ema = jax.tree.map(
                    lambda new, old: jnp.where(finite, new, old),
                    (params, opt_state, ema),
                    (state.params, state.opt_state, state.ema),
                )
            new_state = TrainState(step=state.step + 1, params=params, opt_state=opt_state, key=state.key, ema=ema)
            return new_state, metrics, finite

        return train_update

    def make_eval_update(self, static: PyTree) -> Callable[..., tuple[Metrics, Array]]:
        """Builds ``evaluate(params, columns, idx, key, step) -> (metrics, finite)`` around ``valid_step``."""

        def eval_update(
            params: PyTree, columns: dict[str, Array], idx: Array, key: PRNGKeyArray, step: Array
        ) -> tuple[Metrics, Array]:
            del step
            metrics = self.valid_step(eqx.combine(params, static), gather(columns, idx), key)
            scalars = [jnp.all(jnp.isfinite(v)) for v in metrics.values()]
            return metrics, jnp.all(jnp.stack(scalars)) if scalars else jnp.ones((), bool)

        return eval_update
