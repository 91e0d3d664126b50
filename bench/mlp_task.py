"""The benchmark model as an engine task: MLP 784-512-512-10, Adam, batch 128, on a synthetic 28x28 dataset."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import equinox as eqx
import jax
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

import xaxengine as xax

if TYPE_CHECKING:
    import datasets

NUM_SAMPLES = 8192
INPUTS, HIDDEN, CLASSES = 784, 512, 10


def synthetic_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs with labels from a fixed random linear teacher (learnable, deterministic)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((NUM_SAMPLES, INPUTS)).astype(np.float32)
    labels = (x @ rng.standard_normal((INPUTS, CLASSES)).astype(np.float32)).argmax(-1).astype(np.int32)
    return x, labels


def make_mlp(key: PRNGKeyArray, hidden: int = HIDDEN) -> eqx.nn.MLP:
    """The benchmark MLP."""
    return eqx.nn.MLP(INPUTS, CLASSES, hidden, 2, activation=jax.nn.relu, key=key)


def mlp_loss(model: eqx.nn.MLP, x: Float[Array, "b 784"], y: Array) -> Float[Array, ""]:
    """Mean softmax cross entropy."""
    return optax.softmax_cross_entropy_with_integer_labels(jax.vmap(model)(x), y).mean()


@dataclass(kw_only=True)
class BenchConfig(xax.SupervisedConfig):
    """Benchmark task config (no extra fields)."""

    hidden: int = xax.field(HIDDEN, help="Hidden width of the MLP.")


class BenchMlpTask(xax.SupervisedTask[BenchConfig]):
    """The benchmark MLP through the engine."""

    def get_model(self, params: xax.InitParams) -> eqx.nn.MLP:
        return make_mlp(params.key, self.config.hidden)

    def get_optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.config.optimizer.lr)

    def get_dataset(self, phase: str) -> "datasets.Dataset":
        import datasets

        x, y = synthetic_arrays()
        if phase == "valid":
            x, y = x[:512], y[:512]
        return datasets.Dataset.from_dict({"x": x, "y": y})

    def get_output(self, model: eqx.nn.MLP, batch: dict[str, Array], state: xax.StepState, key: PRNGKeyArray) -> Array:
        return jax.vmap(model)(batch["x"])

    def compute_loss(
        self, model: eqx.nn.MLP, batch: dict[str, Array], output: Array, state: xax.StepState, key: PRNGKeyArray
    ) -> Float[Array, ""]:
        return optax.softmax_cross_entropy_with_integer_labels(output, batch["y"]).mean()
