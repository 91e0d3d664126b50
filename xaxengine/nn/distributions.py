"""Probability distributions as pytrees: diagonal Gaussian, categorical and a Gaussian mixture.

Each distribution describes one (unbatched) random variable; batch with `jax.vmap`.
"""

import abc
import math
from typing import override

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

_LOG_2PI = math.log(2.0 * math.pi)


class Distribution(eqx.Module):
    """A probability distribution over a single value."""

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray) -> Array:
        """Draws one sample.

        Args:
            key: PRNG key.

        Returns:
            A sample.
        """

    @abc.abstractmethod
    def log_prob(self, x: Array) -> Float[Array, ""]:
        """Log density (or log mass) of `x`.

        Args:
            x: A value in the support.

        Returns:
            The log probability.
        """

    @abc.abstractmethod
    def entropy(self) -> Float[Array, ""]:
        """Differential (or discrete) entropy in nats.

        Returns:
            The entropy.
        """


def _diag_gaussian_log_prob(
    x: Float[Array, "*batch dim"], mean: Float[Array, "*batch dim"], log_std: Float[Array, "*batch dim"]
) -> Float[Array, "*batch"]:
    z = (x - mean) * jnp.exp(-log_std)
    return -0.5 * jnp.sum(z * z + 2.0 * log_std + _LOG_2PI, axis=-1)


class DiagGaussian(Distribution):
    """A Gaussian with diagonal covariance, parameterised by mean and log standard deviation."""

    mean: Float[Array, " dim"]
    log_std: Float[Array, " dim"]

    @override
    def sample(self, key: PRNGKeyArray) -> Float[Array, " dim"]:
        return self.mean + jnp.exp(self.log_std) * jax.random.normal(key, self.mean.shape)

    @override
    def log_prob(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        return _diag_gaussian_log_prob(x, self.mean, self.log_std)

    @override
    def entropy(self) -> Float[Array, ""]:
        return jnp.sum(0.5 * (1.0 + _LOG_2PI) + self.log_std)


class Categorical(Distribution):
    """A categorical distribution over `0..n-1`, parameterised by unnormalised logits."""

    logits: Float[Array, " n"]

    @property
    def log_probs(self) -> Float[Array, " n"]:
        """Normalised log probabilities."""
        return jax.nn.log_softmax(self.logits)

    @property
    def probs(self) -> Float[Array, " n"]:
        """Probabilities (they sum to one)."""
        return jax.nn.softmax(self.logits)

    @override
    def sample(self, key: PRNGKeyArray) -> Int[Array, ""]:
        return jax.random.categorical(key, self.logits)

    @override
    def log_prob(self, x: Int[Array, ""]) -> Float[Array, ""]:
        return self.log_probs[x]

    @override
    def entropy(self) -> Float[Array, ""]:
        log_p = self.log_probs
        return -jnp.sum(jnp.exp(log_p) * log_p)


class MixtureOfGaussians(Distribution):
    """A mixture of `k` diagonal Gaussians with mixing logits.

    The entropy of a Gaussian mixture has no closed form; `entropy` returns a Monte-Carlo estimate
    `-mean(log p(x_i))` over `num_samples` samples drawn with `key` (a fixed key when none is given, so the
    estimate is deterministic but biased by that choice of samples).
    """

    logits: Float[Array, " k"]
    means: Float[Array, "k dim"]
    log_stds: Float[Array, "k dim"]

    @override
    def sample(self, key: PRNGKeyArray) -> Float[Array, " dim"]:
        component_key, noise_key = jax.random.split(key)
        component = jax.random.categorical(component_key, self.logits)
        noise = jax.random.normal(noise_key, self.means.shape[1:])
        return self.means[component] + jnp.exp(self.log_stds[component]) * noise

    @override
    def log_prob(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        component_log_probs = _diag_gaussian_log_prob(x[None, :], self.means, self.log_stds)
        return jax.nn.logsumexp(jax.nn.log_softmax(self.logits) + component_log_probs)

    @override
    def entropy(self, *, key: PRNGKeyArray | None = None, num_samples: int = 1024) -> Float[Array, ""]:
        """Monte-Carlo estimate of the entropy.

        Args:
            key: PRNG key for the samples; a fixed key is used when omitted.
            num_samples: Number of samples in the estimate.

        Returns:
            `-mean(log p(x_i))` with `x_i ~ p`.
        """
        key = jax.random.key(0) if key is None else key
        samples = jax.vmap(self.sample)(jax.random.split(key, num_samples))
        return -jnp.mean(jax.vmap(self.log_prob)(samples))
