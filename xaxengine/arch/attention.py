"""Multi-head self-attention with causal and padding masks, rotary positions and a key/value cache."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import DTypeLike
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from xaxengine.nn.embeddings import apply_rotary


class KVCache(eqx.Module):
    """Keys and values of the tokens seen so far, in fixed-size buffers, and the number of tokens written."""

    keys: Float[Array, "max_len heads head_dim"]
    values: Float[Array, "max_len heads head_dim"]
    index: Int[Array, ""]

    @staticmethod
    def empty(max_len: int, num_heads: int, head_dim: int, dtype: DTypeLike = jnp.float32) -> "KVCache":
        """An empty cache.

        Args:
            max_len: Most tokens the cache can hold.
            num_heads: Number of attention heads.
            head_dim: Per-head dimension.
            dtype: Dtype of the buffers.

        Returns:
            A cache with zeroed buffers and index 0.
        """
        zeros = jnp.zeros((max_len, num_heads, head_dim), dtype=dtype)
        return KVCache(keys=zeros, values=zeros, index=jnp.array(0, dtype=jnp.int32))

    @property
    def max_len(self) -> int:
        """Capacity of the cache."""
        return self.keys.shape[0]


def dot_product_attention(
    q: Float[Array, "q heads head_dim"],
    k: Float[Array, "k heads head_dim"],
    v: Float[Array, "k heads head_dim"],
    mask: Bool[Array, "q k"] | None = None,
) -> Float[Array, "q heads head_dim"]:
    """Scaled dot-product attention; masked-out keys get zero weight.

    Args:
        q: Queries.
        k: Keys.
        v: Values.
        mask: True where query i may attend to key j.

    Returns:
        Attention output per query and head. A query with no allowed key gets zeros.
    """
    scale = q.shape[-1] ** -0.5
    logits = jnp.einsum("qhd,khd->hqk", q, k).astype(jnp.float32) * scale
    if mask is not None:
        logits = jnp.where(mask[None], logits, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(logits, axis=-1)
    if mask is not None:
        weights = weights * jnp.any(mask, axis=-1)[None, :, None]
    weights = weights.astype(v.dtype)
    return jnp.einsum("hqk,khd->qhd", weights, v)


class MultiHeadAttention(eqx.Module):
    """Multi-head self-attention over one sequence."""

    q_proj: eqx.nn.Linear
    k_proj: eqx.nn.Linear
    v_proj: eqx.nn.Linear
    o_proj: eqx.nn.Linear
    num_heads: int = eqx.field(static=True)
    head_dim: int = eqx.field(static=True)
    rotary: bool = eqx.field(static=True)
    rotary_base: float = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        rotary: bool = True,
        rotary_base: float = 10_000.0,
        use_bias: bool = False,
        key: PRNGKeyArray,
    ) -> None:
        """Builds the projections.

        Args:
            dim: Model dimension (divisible by `num_heads`).
            num_heads: Number of heads.
            rotary: Whether to apply rotary position embedding to queries and keys.
            rotary_base: Rotary frequency base.
            use_bias: Whether the projections have biases.
            key: PRNG key for initialisation.
        """
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        kq, kk, kv, ko = jax.random.split(key, 4)
        self.q_proj = eqx.nn.Linear(dim, dim, use_bias=use_bias, key=kq)
        self.k_proj = eqx.nn.Linear(dim, dim, use_bias=use_bias, key=kk)
        self.v_proj = eqx.nn.Linear(dim, dim, use_bias=use_bias, key=kv)
        self.o_proj = eqx.nn.Linear(dim, dim, use_bias=use_bias, key=ko)
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.rotary = rotary
        self.rotary_base = rotary_base

    def _qkv(
        self, x: Float[Array, "seq dim"], positions: Int[Array, " seq"]
    ) -> tuple[Float[Array, "seq heads hd"], Float[Array, "seq heads hd"], Float[Array, "seq heads hd"]]:
        def heads(proj: eqx.nn.Linear) -> Float[Array, "seq heads hd"]:
            return jax.vmap(proj)(x).reshape(x.shape[0], self.num_heads, self.head_dim)

        q, k, v = heads(self.q_proj), heads(self.k_proj), heads(self.v_proj)
        if self.rotary:
            q = apply_rotary(q, positions, self.rotary_base)
            k = apply_rotary(k, positions, self.rotary_base)
        return q, k, v

    def _out(self, o: Float[Array, "seq heads hd"]) -> Float[Array, "seq dim"]:
        return jax.vmap(self.o_proj)(o.reshape(o.shape[0], -1))

    def __call__(
        self,
        x: Float[Array, "seq dim"],
        *,
        causal: bool = True,
        padding_mask: Bool[Array, " seq"] | None = None,
    ) -> Float[Array, "seq dim"]:
        """Attends over the whole sequence.

        Args:
            x: Input sequence.
            causal: Whether position i may only attend to positions j <= i.
            padding_mask: True for real tokens; keys at False positions are ignored.

        Returns:
            The attention output for each position.
        """
        seq = x.shape[0]
        q, k, v = self._qkv(x, jnp.arange(seq))
        mask = jnp.ones((seq, seq), dtype=bool)
        if causal:
            mask = jnp.tril(mask)
        if padding_mask is not None:
            mask = mask & padding_mask[None, :]
        return self._out(dot_product_attention(q, k, v, mask))

    def decode(self, x: Float[Array, "new dim"], cache: KVCache) -> tuple[Float[Array, "new dim"], KVCache]:
        """Runs one or more new tokens causally against the cache and appends their keys and values.

        The new tokens take positions `cache.index .. cache.index + new - 1`; the caller must not overflow
        `cache.max_len`.

        Args:
            x: The new tokens' inputs.
            cache: Keys and values of the earlier tokens.

        Returns:
            The attention output for the new tokens and the updated cache.
        """
        new = x.shape[0]
        positions = cache.index + jnp.arange(new)
        q, k, v = self._qkv(x, positions)
        start = (cache.index, jnp.int32(0), jnp.int32(0))
        keys = jax.lax.dynamic_update_slice(cache.keys, k.astype(cache.keys.dtype), start)
        values = jax.lax.dynamic_update_slice(cache.values, v.astype(cache.values.dtype), start)
        mask = jnp.arange(cache.max_len)[None, :] <= positions[:, None]
        out = self._out(dot_product_attention(q, keys, values, mask))
        return out, KVCache(keys=keys, values=values, index=cache.index + new)
