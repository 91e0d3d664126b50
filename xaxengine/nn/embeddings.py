"""Token, sinusoidal and rotary embeddings."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray


class LearnedEmbedding(eqx.Module):
    """A learned lookup table mapping token ids to vectors, usable as a tied output projection."""

    weight: Float[Array, "vocab dim"]
    vocab_size: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)

    def __init__(self, vocab_size: int, dim: int, *, init_std: float = 0.02, key: PRNGKeyArray) -> None:
        """Initialises the table from a normal distribution.

        Args:
            vocab_size: Number of distinct tokens.
            dim: Embedding dimension.
            init_std: Standard deviation of the initial weights.
            key: PRNG key for initialisation.
        """
        self.vocab_size = vocab_size
        self.dim = dim
        self.weight = init_std * jax.random.normal(key, (vocab_size, dim))

    def __call__(self, tokens: Int[Array, "*shape"]) -> Float[Array, "*shape dim"]:
        """Looks up the vectors of `tokens`.

        Args:
            tokens: Token ids of any shape.

        Returns:
            One vector per token.
        """
        return jnp.take(self.weight, tokens, axis=0)

    def attend(self, x: Float[Array, "*shape dim"]) -> Float[Array, "*shape vocab"]:
        """Projects hidden vectors onto the vocabulary (tied output embedding).

        Args:
            x: Hidden vectors.

        Returns:
            Logits over the vocabulary.
        """
        return x @ self.weight.T


def sinusoidal_embedding(t: Float[Array, ""] | float, dim: int, max_period: float = 10_000.0) -> Float[Array, " dim"]:
    """Embeds a scalar (a position or a diffusion time) with sines and cosines of geometric frequencies.

    Args:
        t: The scalar to embed.
        dim: Output dimension (must be even).
        max_period: Longest period of the frequencies.

    Returns:
        `[cos(t * f_0), ..., cos(t * f_{d/2-1}), sin(t * f_0), ...]`.
    """
    if dim % 2:
        raise ValueError(f"sinusoidal embedding dim must be even, got {dim}")
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half) / half)
    angles = jnp.asarray(t, dtype=jnp.float32) * freqs
    return jnp.concatenate([jnp.cos(angles), jnp.sin(angles)])


def sinusoidal_positions(seq_len: int, dim: int, max_period: float = 10_000.0) -> Float[Array, "seq dim"]:
    """Sinusoidal embeddings of positions `0..seq_len-1`.

    Args:
        seq_len: Number of positions.
        dim: Embedding dimension (must be even).
        max_period: Longest period of the frequencies.

    Returns:
        One embedding per position.
    """
    return jax.vmap(lambda p: sinusoidal_embedding(p, dim, max_period))(jnp.arange(seq_len, dtype=jnp.float32))


def apply_rotary(
    x: Float[Array, "seq *heads head_dim"],
    positions: Int[Array, " seq"],
    base: float = 10_000.0,
) -> Float[Array, "seq *heads head_dim"]:
    """Applies rotary position embedding (RoPE, half-split layout) to queries or keys.

    The first and second halves of the last axis form pairs rotated by `position * base^(-2i/d)`, so the dot
    product of a rotated query at position m and a rotated key at position n depends only on `m - n`.

    Args:
        x: Queries or keys, optionally with head axes between sequence and feature axes.
        positions: Absolute position of each sequence element.
        base: Frequency base.

    Returns:
        The rotated array, same shape as `x`.
    """
    head_dim = x.shape[-1]
    if head_dim % 2:
        raise ValueError(f"rotary head_dim must be even, got {head_dim}")
    half = head_dim // 2
    freqs = base ** (-jnp.arange(half, dtype=jnp.float32) / half)
    angles = positions.astype(jnp.float32)[:, None] * freqs  # (seq, half)
    angles = angles.reshape(angles.shape[:1] + (1,) * (x.ndim - 2) + angles.shape[1:])
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    x1, x2 = x[..., :half], x[..., half:]
    out = jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
    return out.astype(x.dtype)
