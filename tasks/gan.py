"""A GAN on a toy 2-D target: a generator and a discriminator, two optimizers, one custom train step.

The target is the classic ring of eight Gaussians (radius 2, std 0.05), generated offline. The task subclasses
``xax.Task`` (not ``SupervisedTask``): ``get_model`` returns both networks by name, ``get_optimizer`` one optimizer per
name, and ``train_step`` alternates a discriminator update and a non-saturating generator update. Validation
measures the generator's samples: ``quality`` is the fraction within 3 std of a mode, ``modes`` the number of modes
that received good samples (out of 8).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray

import xaxengine as xax
from xaxengine.arch import MLP

if TYPE_CHECKING:
    import datasets

Batch = dict[str, Array]
Models = dict[str, MLP]


@dataclass(kw_only=True)
class GanConfig(xax.Config):
    """Ring-of-Gaussians GAN settings."""

    latent: int = xax.field(8, help="Dimension of the generator's Gaussian input.")
    hidden: int = xax.field(128, help="Hidden width of both networks.")
    depth: int = xax.field(3, help="Hidden layers of both networks.")
    modes: int = xax.field(8, help="Gaussians on the ring.")
    radius: float = xax.field(2.0, help="Radius of the ring.")
    std: float = xax.field(0.05, help="Standard deviation of each Gaussian.")
    train_points: int = xax.field(20000, help="Points sampled from the target for training.")
    valid_points: int = xax.field(2048, help="Points sampled from the target for validation.")


def ring_centers(modes: int, radius: float) -> np.ndarray:
    """The ``(modes, 2)`` centers of the Gaussians on the ring."""
    angles = np.arange(modes) * 2 * np.pi / modes
    return (np.stack([np.cos(angles), np.sin(angles)], axis=1) * radius).astype(np.float32)


def ring_dataset(config: GanConfig, phase: str) -> "datasets.Dataset":
    """Points from the ring of Gaussians as a ``datasets.Dataset`` with one column ``x`` (float32, 2)."""
    import datasets

    rng = np.random.default_rng(1 if phase == "valid" else 0)
    count = config.valid_points if phase == "valid" else config.train_points
    centers = ring_centers(config.modes, config.radius)
    points = centers[rng.integers(0, config.modes, count)] + rng.normal(0.0, config.std, (count, 2))
    return datasets.Dataset.from_dict({"x": points.astype(np.float32)})


class GanTask(xax.Task[GanConfig]):
    """Trains the generator and the discriminator in turn; validates the generator's samples."""

    def get_model(self, params: xax.InitParams) -> Models:
        gen_key, disc_key = jax.random.split(params.key)
        hidden = [self.config.hidden] * self.config.depth
        return {
            "generator": MLP(self.config.latent, 2, hidden, activation=jax.nn.relu, key=gen_key),
            "discriminator": MLP(2, 1, hidden, activation=jax.nn.leaky_relu, key=disc_key),
        }

    def get_optimizer(self) -> dict[str, optax.GradientTransformation]:
        return {
            "generator": xax.build_optimizer(self.config.optimizer, self.config.train.max_steps),
            "discriminator": xax.build_optimizer(self.config.optimizer, self.config.train.max_steps),
        }

    def get_dataset(self, phase: str) -> "datasets.Dataset":
        return ring_dataset(self.config, phase)

    def sample(self, generator: MLP, count: int, key: PRNGKeyArray) -> Float[Array, "count 2"]:
        """``count`` points from the generator."""
        return jax.vmap(generator)(jax.random.normal(key, (count, self.config.latent)))

    def train_step(self, state: xax.ModelsState, batch: Batch, key: PRNGKeyArray) -> tuple[xax.ModelsState, Batch]:
        real = batch["x"]
        count = real.shape[0]
        disc_key, gen_key = jax.random.split(key)
        ones, zeros = jnp.ones((count, 1)), jnp.zeros((count, 1))

        def disc_loss(discriminator: MLP) -> Array:
            fake = jax.lax.stop_gradient(self.sample(state.models["generator"], count, disc_key))
            real_loss = optax.sigmoid_binary_cross_entropy(jax.vmap(discriminator)(real), ones).mean()
            fake_loss = optax.sigmoid_binary_cross_entropy(jax.vmap(discriminator)(fake), zeros).mean()
            return real_loss + fake_loss

        d_loss, d_grads = eqx.filter_value_and_grad(disc_loss)(state.models["discriminator"])
        state = state.apply_gradients(d_grads, "discriminator")

        def gen_loss(generator: MLP) -> Array:  # non-saturating: make the updated discriminator call fakes real
            logits = jax.vmap(state.models["discriminator"])(self.sample(generator, count, gen_key))
            return optax.sigmoid_binary_cross_entropy(logits, ones).mean()

        g_loss, g_grads = eqx.filter_value_and_grad(gen_loss)(state.models["generator"])
        state = state.apply_gradients(g_grads, "generator")
        return state, {"disc_loss": d_loss, "gen_loss": g_loss}

    def valid_step(self, models: Models, batch: Batch, key: PRNGKeyArray) -> Batch:
        samples = self.sample(models["generator"], batch["x"].shape[0], key)
        centers = jnp.asarray(ring_centers(self.config.modes, self.config.radius))
        distance = jnp.linalg.norm(samples[:, None] - centers[None], axis=-1)
        good = distance.min(axis=1) < 3 * self.config.std
        hit = jax.nn.one_hot(distance.argmin(axis=1), self.config.modes) * good[:, None]
        real_logits = jax.vmap(models["discriminator"])(batch["x"])
        return {
            "quality": good.mean(),
            "modes": (hit.sum(axis=0) > 0).sum().astype(jnp.float32),
            "disc_real_accuracy": (real_logits > 0).mean(),
        }


if __name__ == "__main__":
    raise SystemExit(GanTask.main())
