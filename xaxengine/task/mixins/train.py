"""Training: the train state pytree, the optimizer built from config, and the model/optimizer hooks."""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Int, PRNGKeyArray, PyTree

from xaxengine.config import field
from xaxengine.task.mixins.base import BaseTask


@dataclass(kw_only=True)
class TrainConfig:
    """The training loop."""

    max_steps: int = field(1000, help="Number of optimizer steps to train for.")
    seed: int = field(0, help="Seed for parameter init, dropout keys and data order.")
    log_every_n_steps: int = field(50, help="Fetch accumulated train metrics from the device and log them this often.")
    valid_every_n_steps: int = field(250, help="Run validation this often (and at the end); 0 disables it.")
    log_heavy_every_n_steps: int = field(0, help="Call log_heavy (images, histograms, samples) this often; 0 = never.")
    nan_policy: Literal["stop", "skip_step"] = field(
        "stop", help="On a non-finite loss or gradient: stop the run as failed, or skip that update and go on."
    )


@dataclass(kw_only=True)
class OptimizerConfig:
    """The optimizer, built by build_optimizer."""

    kind: Literal["adam", "adamw", "sgd", "lion"] = field("adamw", help="Optimizer.")
    lr: float = field(1e-3, help="Peak learning rate.")
    weight_decay: float = field(0.0, help="Decoupled weight decay (adamw, lion).")
    b1: float = field(0.9, help="First moment decay (adam, adamw, lion); momentum for sgd.")
    b2: float = field(0.999, help="Second moment decay (adam, adamw, lion).")
    schedule: Literal["constant", "cosine", "linear"] = field("constant", help="Learning rate schedule after warmup.")
    warmup_steps: int = field(0, help="Linear warmup steps from 0 to the peak learning rate.")
    grad_clip_norm: float = field(0.0, help="Clip gradients to this global norm; 0 disables clipping.")


@dataclass(kw_only=True)
class TrainMixinConfig:
    """Config sections of the train mixin."""

    train: TrainConfig = field(TrainConfig, help="Training loop settings.")
    optimizer: OptimizerConfig = field(OptimizerConfig, help="Optimizer settings.")


@dataclass(frozen=True)
class InitParams:
    """What get_model receives."""

    key: PRNGKeyArray


class TrainState(eqx.Module):
    """Everything that evolves during training; checkpointed and restored as one pytree."""

    step: Int[Array, ""]
    params: PyTree
    opt_state: PyTree
    key: PRNGKeyArray


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


class TrainMixin[ConfigT: TrainMixinConfig](BaseTask[ConfigT]):
    """Model and optimizer hooks, and the initial train state."""

    def get_model(self, params: InitParams) -> PyTree:
        """Builds the model (an equinox module). Users implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_model(params)")

    def get_optimizer(self) -> optax.GradientTransformation:
        """Builds the optimizer; by default from the ``[optimizer]`` section."""
        return build_optimizer(self.config.optimizer, self.config.train.max_steps)

    def init_state(self, abstract: bool = False) -> tuple[TrainState, PyTree, optax.GradientTransformation]:
        """Returns the initial train state, the model's static part and the optimizer.

        Args:
            abstract: Return ``jax.ShapeDtypeStruct`` leaves instead of arrays (nothing is allocated): the target
                of a checkpoint restore, so resuming never holds two copies of the state.
        """
        model_key, train_key = jax.random.split(jax.random.PRNGKey(self.config.train.seed))
        optimizer = self.get_optimizer()

        def build(params: PyTree) -> TrainState:
            return TrainState(
                step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params), key=train_key
            )

        if abstract:
            model = eqx.filter_eval_shape(self.get_model, InitParams(key=model_key))
            params, static = eqx.partition(model, _is_inexact_shape)
            return jax.eval_shape(build, params), static, optimizer
        params, static = eqx.partition(self.get_model(InitParams(key=model_key)), eqx.is_inexact_array)
        return build(params), static, optimizer


def _is_inexact_shape(leaf: object) -> bool:
    return isinstance(leaf, jax.ShapeDtypeStruct) and jnp.issubdtype(leaf.dtype, jnp.inexact)
