"""Digit classification: an MLP or CNN on scikit-learn's offline 8x8 digits, or MNIST from the Hugging Face hub.

``dataset = "digits"`` (default) builds a ``datasets.Dataset`` in memory from scikit-learn's digits, the data of
``sklearn.datasets.load_digits`` (1797 images, works offline); ``dataset = "mnist"`` loads ``ylecun/mnist`` through
``datasets.load_dataset``.
"""

import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

import xaxengine as xax
from xaxengine.arch import CNN, MLP

if TYPE_CHECKING:
    import datasets

Batch = dict[str, Array]


@dataclass(kw_only=True)
class MnistConfig(xax.SupervisedConfig):
    """Digit classifier settings."""

    dataset: Literal["digits", "mnist"] = xax.field(
        "digits", help="'digits' (offline, 8x8) or 'mnist' (HF hub, 28x28)."
    )
    model: Literal["mlp", "cnn"] = xax.field("mlp", help="Classifier architecture.")
    hidden: int = xax.field(256, help="Hidden width of the MLP.")
    depth: int = xax.field(2, help="Hidden layers of the MLP.")
    channels: list[int] = xax.field([32, 64], help="Output channels of the CNN's stride-2 3x3 convolutions.")
    valid_fraction: float = xax.field(0.1, help="Fraction of the digits set held out for validation.")
    label_smoothing: float = xax.field(0.0, help="Label smoothing of the cross entropy.")


@functools.cache
def digits_arrays() -> tuple[Float[np.ndarray, "1797 8 8"], Int[np.ndarray, " 1797"]]:
    """scikit-learn's 8x8 digits: the images (pixel values 0-16) and their labels, as ``load_digits`` returns them.

    Read from the CSV file scikit-learn ships, the way ``load_digits`` reads it, without importing scikit-learn:
    that import pulls in scipy.stats and takes 1.4 s, most of a small run's start-up on a 2-core host. The arrays
    are cached and shared between callers, so they are read-only.
    """
    spec = importlib.util.find_spec("sklearn")
    roots = spec.submodule_search_locations if spec is not None else None
    path = Path(next(iter(roots))) / "datasets" / "data" / "digits.csv.gz" if roots else None
    if path is None or not path.is_file():  # a scikit-learn that keeps the file elsewhere
        from sklearn.datasets import load_digits

        digits = load_digits()
        images, labels = digits.images, digits.target
    else:
        with gzip.open(path, "rt") as f:
            data = np.loadtxt(f, delimiter=",")
        images, labels = data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    for array in (images, labels):
        array.setflags(write=False)
    return images, labels


def load_digits_dataset(phase: str, valid_fraction: float, seed: int = 0) -> "datasets.Dataset":
    """The scikit-learn digits as a Hugging Face dataset: ``image`` float32 (8, 8) in [0, 1], ``label`` int32."""
    import datasets

    images, labels = digits_arrays()
    images = (images / 16.0).astype(np.float32)
    labels = labels.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_valid = round(len(labels) * valid_fraction)
    chosen = order[:n_valid] if phase == "valid" else order[n_valid:]
    return datasets.Dataset.from_dict({"image": images[chosen], "label": labels[chosen]})


def load_mnist_dataset(phase: str) -> "datasets.Dataset":
    """MNIST from the hub (``ylecun/mnist``) as ``image`` float32 (28, 28) in [0, 1] and ``label`` int32."""
    import datasets

    split = "test" if phase == "valid" else "train"
    raw = datasets.load_dataset("ylecun/mnist", split=split)
    images = np.stack([np.asarray(img, dtype=np.float32) / 255.0 for img in raw["image"]])
    return datasets.Dataset.from_dict({"image": images, "label": np.asarray(raw["label"], dtype=np.int32)})


class MnistTask(xax.SupervisedTask[MnistConfig]):
    """Classifies digits; logs ``accuracy`` in the train and valid phases."""

    def get_model(self, params: xax.InitParams) -> CNN | MLP:
        side = 8 if self.config.dataset == "digits" else 28
        if self.config.model == "cnn":
            return CNN((1, side, side), 10, self.config.channels, key=params.key)
        return MLP(side * side, 10, [self.config.hidden] * self.config.depth, activation=jax.nn.gelu, key=params.key)

    def get_dataset(self, phase: str) -> "datasets.Dataset":
        if self.config.dataset == "mnist":
            return load_mnist_dataset(phase)
        return load_digits_dataset(phase, self.config.valid_fraction)

    def get_output(self, model: CNN | MLP, batch: Batch, state: xax.StepState, key: PRNGKeyArray) -> Array:
        images = batch["image"]
        images = images.reshape(images.shape[0], -1) if self.config.model == "mlp" else images[:, None]
        return jax.vmap(model)(images)

    def compute_loss(
        self, model: eqx.Module, batch: Batch, output: Float[Array, "batch 10"], state: xax.StepState, key: PRNGKeyArray
    ) -> Float[Array, ""]:
        labels: Int[Array, " batch"] = batch["label"]
        targets = optax.smooth_labels(jax.nn.one_hot(labels, 10), self.config.label_smoothing)
        return optax.softmax_cross_entropy(output, targets).mean()

    def compute_metrics(
        self, model: eqx.Module, batch: Batch, output: Float[Array, "batch 10"], loss: Array, state: xax.StepState
    ) -> dict[str, Array]:
        return {"accuracy": (jnp.argmax(output, axis=-1) == batch["label"]).mean()}


if __name__ == "__main__":
    raise SystemExit(MnistTask.main())
