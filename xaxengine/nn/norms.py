"""Normalisation layers acting on one feature vector."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


class RMSNorm(eqx.Module):
    """Root-mean-square normalisation with a learned gain (no mean subtraction, no bias)."""

    weight: Float[Array, " dim"]
    dim: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        """Creates a norm with unit gain.

        Args:
            dim: Feature dimension.
            eps: Added to the mean square for numerical stability.
        """
        self.dim = dim
        self.eps = eps
        self.weight = jnp.ones((dim,))

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """Normalises one feature vector.

        Args:
            x: Features.

        Returns:
            The normalised, rescaled features.
        """
        xf = x.astype(jnp.float32)
        scale = jax.lax.rsqrt(jnp.mean(xf * xf) + self.eps)
        return (xf * scale * self.weight).astype(x.dtype)


class LayerNorm(eqx.Module):
    """Layer normalisation with a learned gain and bias, computed in float32."""

    weight: Float[Array, " dim"]
    bias: Float[Array, " dim"]
    dim: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        """Creates a norm with unit gain and zero bias.

        Args:
            dim: Feature dimension.
            eps: Added to the variance for numerical stability.
        """
        self.dim = dim
        self.eps = eps
        self.weight = jnp.ones((dim,))
        self.bias = jnp.zeros((dim,))

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """Normalises one feature vector.

        Args:
            x: Features.

        Returns:
            The normalised, rescaled features.
        """
        xf = x.astype(jnp.float32)
        mean = jnp.mean(xf)
        var = jnp.mean(jnp.square(xf - mean))
        out = (xf - mean) * jax.lax.rsqrt(var + self.eps) * self.weight + self.bias
        return out.astype(x.dtype)
