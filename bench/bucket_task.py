"""The bucketing benchmark's task: token sequences of long-tailed lengths, a model whose cost grows with the length.

Sequences of 8 to 512 tokens (log-normal lengths, median about 60), labelled by whether their real tokens sum to an
even number. The model embeds each token, runs a per-position MLP and takes the masked mean: its cost is
proportional to the padded length, as a transformer's is at least, so padding every batch to 512 spends most of
the step on padding.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

import xaxengine as xax

if TYPE_CHECKING:
    import datasets

MAX_LEN, VOCAB, WIDTH = 512, 256, 64


def token_lengths(count: int, seed: int = 0) -> np.ndarray:
    """Log-normal lengths clipped to [8, MAX_LEN]."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(np.log(60), 0.9, count), 8, MAX_LEN).astype(np.int32)


class TokenModel(eqx.Module):
    """Embedding, a per-position MLP, the masked mean, a linear readout."""

    embed: eqx.nn.Embedding
    mlp: eqx.nn.MLP
    head: eqx.nn.Linear

    def __init__(self, key: PRNGKeyArray) -> None:
        """A model of width ``WIDTH``."""
        k1, k2, k3 = jax.random.split(key, 3)
        self.embed = eqx.nn.Embedding(VOCAB, WIDTH, key=k1)
        self.mlp = eqx.nn.MLP(WIDTH, WIDTH, 4 * WIDTH, 1, activation=jax.nn.gelu, key=k2)
        self.head = eqx.nn.Linear(WIDTH, 2, key=k3)

    def __call__(self, tokens: Array, mask: Array) -> Float[Array, "2"]:
        """Logits of one sequence (``tokens`` and ``mask`` of the padded length)."""
        hidden = jax.vmap(self.mlp)(jax.vmap(self.embed)(tokens))
        weights = mask.astype(hidden.dtype)[:, None]
        return self.head((hidden * weights).sum(0) / jnp.maximum(weights.sum(), 1.0))


@dataclass(kw_only=True)
class BucketBenchConfig(xax.SupervisedConfig):
    """The bucketing benchmark's config."""

    examples: int = xax.field(20000, ge=1, help="Training sequences.")


class BucketBenchTask(xax.SupervisedTask[BucketBenchConfig]):
    """Token sequences of long-tailed lengths for ``data.pad_to`` against ``data.bucket_by``."""

    def get_model(self, params: xax.InitParams) -> TokenModel:
        return TokenModel(params.key)

    def get_optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.config.optimizer.lr)

    def get_dataset(self, phase: str) -> "datasets.Dataset":
        import datasets

        count = self.config.examples if phase == "train" else 512
        lengths = token_lengths(count, seed=0 if phase == "train" else 1)
        rng = np.random.default_rng(2 if phase == "train" else 3)
        tokens = [rng.integers(0, VOCAB, n).astype(np.int32) for n in lengths]
        labels = np.array([int(t.sum()) % 2 for t in tokens], np.int32)
        return datasets.Dataset.from_dict({"tokens": [t.tolist() for t in tokens], "label": labels})

    def get_output(self, model: TokenModel, batch: dict[str, Array], state: xax.StepState, key: PRNGKeyArray) -> Array:
        return jax.vmap(model)(batch["tokens"], batch["tokens_mask"])

    def compute_loss(
        self, model: TokenModel, batch: dict[str, Array], output: Array, state: xax.StepState, key: PRNGKeyArray
    ) -> Float[Array, ""]:
        return optax.softmax_cross_entropy_with_integer_labels(output, batch["label"]).mean()

    def compute_metrics(self, model: Any, batch: dict[str, Array], output: Array, loss: Array, state: Any) -> dict:
        """The batch's real tokens and its padded length."""
        mask = batch["tokens_mask"]
        return {"real_tokens": mask.sum().astype(jnp.float32), "padded_len": jnp.float32(mask.shape[1])}
