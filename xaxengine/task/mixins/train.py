"""Training: the train state pytree, the optimizer built from config, and the model/optimizer hooks."""

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Int, PRNGKeyArray, PyTree

from xaxengine.config.sections import Config, OptimizerConfig
from xaxengine.task.mixins.base import BaseTask
from xaxengine.task.mixins.hooks import Hook
from xaxengine.task.mixins.train_step import initial_ema, stored_params


@dataclass(frozen=True)
class InitParams:
    """What get_model receives."""

    key: PRNGKeyArray


class TrainState(eqx.Module):
    """Everything that evolves during training; checkpointed and restored as one pytree.

    ``key`` is the run's training key and stays fixed: each step's key is ``fold_in(key, step)``
    (:func:`step_key`), so a step that draws no randomness computes none (XLA drops the unused key math, a
    threefry loop that costs about 3% of a small MLP's step on CPU) and a resumed run draws the same keys.
    """

    step: Int[Array, ""]
    params: PyTree
    opt_state: PyTree
    key: PRNGKeyArray
    ema: PyTree = None  # the fp32 moving average of params under train.ema_decay > 0, else None


def step_key(state: TrainState) -> PRNGKeyArray:
    """The key of the step ``state.step`` (see :class:`TrainState`)."""
    return jax.random.fold_in(state.key, state.step)


class NamedOptimizers(Mapping[str, optax.GradientTransformation]):
    """The optimizers of several models, by model name (``get_optimizer`` returning a dict).

    Hashable by identity, so it can be a static field of the jitted loop state (a dict cannot).
    """

    def __init__(self, optimizers: Mapping[str, optax.GradientTransformation]) -> None:
        """Holds a copy of ``optimizers``."""
        self._by_name = dict(optimizers)

    def __getitem__(self, name: str) -> optax.GradientTransformation:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other


Optimizers = optax.GradientTransformation | NamedOptimizers


def init_opt_state(optimizer: Optimizers, params: PyTree) -> PyTree:
    """The optimizer state of ``params``: one state, or a dict of states by model name for named optimizers.

    Raises:
        ValueError: Named optimizers whose names are not the models' (``get_model`` must return a dict by the same
            names).
    """
    if not isinstance(optimizer, NamedOptimizers):
        return optimizer.init(params)
    models = sorted(params) if isinstance(params, Mapping) else []
    if models != sorted(optimizer):
        raise ValueError(
            f"get_optimizer returned optimizers for {sorted(optimizer)}, but get_model returned "
            f"{'models ' + str(models) if models else 'one model'}; return a dict with the same names from both"
        )
    return {name: opt.init(params[name]) for name, opt in optimizer.items()}


def task_optimizer(optimizer: Any) -> Optimizers:
    """``get_optimizer``'s result as the engine carries it (a dict becomes :class:`NamedOptimizers`)."""
    return NamedOptimizers(optimizer) if isinstance(optimizer, Mapping) else optimizer


def build_optimizer(cfg: OptimizerConfig, max_steps: int) -> optax.GradientTransformation:
    """Builds an optax optimizer (schedule, clipping, optimizer) from its config."""
    decay_steps = max(1, max_steps - cfg.warmup_steps)
    if cfg.schedule == "cosine":
        after: optax.Schedule = optax.cosine_decay_schedule(cfg.lr, decay_steps)
    elif cfg.schedule == "linear":
        after = optax.linear_schedule(cfg.lr, 0.0, decay_steps)
    else:
        after = optax.constant_schedule(cfg.lr)
    schedule = (
        optax.join_schedules([optax.linear_schedule(0.0, cfg.lr, cfg.warmup_steps), after], [cfg.warmup_steps])
        if cfg.warmup_steps
        else after
    )
    if cfg.kind == "adam":
        opt = optax.adam(schedule, b1=cfg.b1, b2=cfg.b2)
    elif cfg.kind == "adamw":
        opt = optax.adamw(schedule, b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay)
    elif cfg.kind == "lion":
        opt = optax.lion(schedule, b1=cfg.b1, b2=cfg.b2, weight_decay=cfg.weight_decay)
    else:
        opt = optax.sgd(schedule, momentum=cfg.b1 or None)
    if cfg.grad_clip_norm > 0:
        return optax.chain(optax.clip_by_global_norm(cfg.grad_clip_norm), opt)
    return opt


class TrainMixin[ConfigT: Config](BaseTask[ConfigT]):
    """Model and optimizer hooks, and the initial train state."""

    @abc.abstractmethod
    def get_model(self, params: InitParams) -> PyTree:
        """Builds the model (an equinox module). Users implement this."""

    def get_hooks(self) -> list[Hook]:
        """The task's own periodic callbacks (see :mod:`xaxengine.task.mixins.hooks`); none by default."""
        return []

    def get_optimizer(self) -> optax.GradientTransformation | Mapping[str, optax.GradientTransformation]:
        """Builds the optimizer; by default from the ``[optimizer]`` section.

        A task with several models (a dict from ``get_model``) may return a dict of optimizers by the same names.
        """
        return build_optimizer(self.config.optimizer, self.config.train.max_steps)

    def log_heavy(self, model: PyTree, batch: dict[str, np.ndarray], step: int) -> None:
        """Logs expensive things (images, histograms, samples) every ``log_heavy_every_n_steps``; runs on host."""
        del model, batch, step

    def init_state(self, abstract: bool = False) -> tuple[TrainState, PyTree, Optimizers]:
        """Returns the initial train state, the model's static part and the optimizer.

        Args:
            abstract: Return ``jax.ShapeDtypeStruct`` leaves instead of arrays (nothing is allocated): the target
                of a checkpoint restore, so resuming never holds two copies of the state.
        """
        model_key, train_key = jax.random.split(jax.random.PRNGKey(self.config.train.seed))
        optimizer = task_optimizer(self.get_optimizer())

        def build(params: PyTree) -> TrainState:
            params = stored_params(params, self.config.train.precision)
            return TrainState(
                step=jnp.zeros((), jnp.int32),
                params=params,
                opt_state=init_opt_state(optimizer, params),
                key=train_key,
                ema=initial_ema(params, self.config.train.ema_decay),
            )

        if abstract:
            model = eqx.filter_eval_shape(self.get_model, InitParams(key=model_key))
            params, static = eqx.partition(model, _is_inexact_shape)
            return jax.eval_shape(build, params), static, optimizer
        params, static = eqx.partition(self.get_model(InitParams(key=model_key)), eqx.is_inexact_array)
        return build(params), static, optimizer


def _is_inexact_shape(leaf: object) -> bool:
    return isinstance(leaf, jax.ShapeDtypeStruct) and jnp.issubdtype(leaf.dtype, jnp.inexact)
