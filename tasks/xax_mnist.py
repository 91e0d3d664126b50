"""xax 0.4.4's ``examples/mnist.py``, ported in full to this engine (see ``docs/from-xax.md``, line by line).

Trains the same MLP (``num_hidden_layers`` ReLU layers of ``hidden_dim``, then ``log_softmax``) with the same Adam and
the same sampling (batches of random indices with replacement), and logs the same labeled predictions of the first
validation batch. What changed, and why:

- data: xax downloads MNIST with ``dpshdl``; here ``dataset = "digits"`` (default, offline, 8x8) or ``"mnist"`` (the
  Hugging Face hub, 28x28), so the model's input size follows the dataset instead of a hard-coded ``28 * 28``;
- batches are dicts (``{"image", "label"}``), not tuples; ``batch_size`` is ``data.batch_size`` (a top-level
  ``batch_size`` field is refused with a hint);
- ``get_output``/``compute_loss`` also receive a PRNG key; ``compute_metrics`` need not return the loss (always
  logged); validation reads ``get_dataset("valid")``.

Run it with ``python -m tasks.xax_mnist`` (dotted overrides as in ``xaxengine run``).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import equinox as eqx
import jax
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray, PyTree

import xaxengine as xax
from tasks.mnist import load_digits_dataset, load_mnist_dataset
from xaxengine.nn import cross_entropy

if TYPE_CHECKING:
    import datasets

Batch = dict[str, Array]


@dataclass(kw_only=True)
class Config(xax.SupervisedConfig):
    """The xax example's fields (``batch_size`` lives in ``[data]``) plus the offline dataset choice."""

    learning_rate: float = xax.field(1e-3, help="The learning rate")
    hidden_dim: int = xax.field(512, help="Hidden layer dimension")
    num_hidden_layers: int = xax.field(2, help="Number of hidden layers")
    dataset: Literal["digits", "mnist"] = xax.field("digits", help="'digits' (offline, 8x8) or 'mnist' (HF hub).")


class Model(eqx.Module):
    """The xax example's MLP; ``input_dim`` follows the dataset."""

    num_hidden_layers: int = eqx.field(static=True)
    hidden_dim: int = eqx.field(static=True)
    layers: tuple[Callable[[Array], Array], ...]

    def __init__(self, num_hidden_layers: int, hidden_dim: int, input_dim: int, *, key: PRNGKeyArray) -> None:
        self.num_hidden_layers = num_hidden_layers
        self.hidden_dim = hidden_dim
        output_dim = 10
        keys = jax.random.split(key, num_hidden_layers + 1)
        layers: list[Callable[[Array], Array]] = []
        current_dim = input_dim
        for i in range(num_hidden_layers):
            layers.extend([eqx.nn.Linear(current_dim, hidden_dim, key=keys[i]), jax.nn.relu])
            current_dim = hidden_dim
        layers.extend([eqx.nn.Linear(current_dim, output_dim, key=keys[-1]), jax.nn.log_softmax])
        self.layers = tuple(layers)

    def __call__(self, x: Array) -> Array:
        x = x.reshape(-1)
        for layer in self.layers:
            x = layer(x)
        return x


class MnistClassification(xax.SupervisedTask[Config]):
    """The xax example's task."""

    def side(self) -> int:
        """Image side of the configured dataset."""
        return 8 if self.config.dataset == "digits" else 28

    def get_model(self, params: xax.InitParams) -> Model:
        return Model(self.config.num_hidden_layers, self.config.hidden_dim, self.side() ** 2, key=params.key)

    def get_optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.config.learning_rate)

    def get_output(self, model: Model, batch: Batch, state: xax.StepState, key: PRNGKeyArray) -> Array:
        return jax.vmap(model)(batch["image"])

    def compute_loss(self, model: Model, batch: Batch, output: Array, state: xax.StepState, key: PRNGKeyArray) -> Array:
        return cross_entropy(output, batch["label"])

    def compute_metrics(
        self, model: PyTree, batch: Batch, output: Array, loss: Array, state: xax.StepState
    ) -> dict[str, Array]:
        return {"acc": (output.argmax(axis=1) == batch["label"]).astype(float).mean()}

    def log_valid_step(
        self, model: Model, batch: dict[str, np.ndarray], output: np.ndarray, metrics: dict[str, float], step: int
    ) -> None:
        max_images = 16
        x, y, yhat = batch["image"][:max_images], batch["label"][:max_images], output.argmax(axis=1)[:max_images]
        labels = [f"pred: {p}\ntrue: {t}" for p, t in zip(yhat, y, strict=True)]
        self.log_labeled_images(step, "predictions", x, labels)

    def get_dataset(self, phase: str) -> "datasets.Dataset":
        if self.config.dataset == "mnist":
            return load_mnist_dataset(phase)
        return load_digits_dataset(phase, valid_fraction=0.1)

    def get_data_iterator(self, phase: str) -> Iterator[dict[str, np.ndarray]] | None:
        if phase != "train":
            return None
        ds = self.get_dataset("train")
        images, labels = np.asarray(ds["image"], np.float32), np.asarray(ds["label"], np.int32)
        rng = np.random.default_rng(self.config.train.seed)

        def batches() -> Iterator[dict[str, np.ndarray]]:
            while True:
                indices = rng.integers(0, images.shape[0], self.config.data.batch_size)
                yield {"image": images[indices], "label": labels[indices]}

        return batches()


if __name__ == "__main__":
    # python -m tasks.xax_mnist
    raise SystemExit(MnistClassification.main())
