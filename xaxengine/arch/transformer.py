"""A pre-norm decoder block, a causal decoder language model and cached autoregressive generation."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from xaxengine.arch.attention import KVCache, MultiHeadAttention
from xaxengine.nn.embeddings import LearnedEmbedding
from xaxengine.nn.norms import RMSNorm


class DecoderBlock(eqx.Module):
    """`x + attn(norm(x))` followed by `x + mlp(norm(x))`, with a GELU MLP."""

    attn_norm: RMSNorm
    attn: MultiHeadAttention
    mlp_norm: RMSNorm
    mlp_in: eqx.nn.Linear
    mlp_out: eqx.nn.Linear

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4, *, rotary: bool = True, key: PRNGKeyArray) -> None:
        """Builds the block.

        Args:
            dim: Model dimension.
            num_heads: Attention heads.
            mlp_ratio: Hidden width of the MLP as a multiple of `dim`.
            rotary: Whether attention uses rotary position embedding.
            key: PRNG key for initialisation.
        """
        k_attn, k_in, k_out = jax.random.split(key, 3)
        self.attn_norm = RMSNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, rotary=rotary, key=k_attn)
        self.mlp_norm = RMSNorm(dim)
        self.mlp_in = eqx.nn.Linear(dim, mlp_ratio * dim, use_bias=False, key=k_in)
        self.mlp_out = eqx.nn.Linear(mlp_ratio * dim, dim, use_bias=False, key=k_out)

    def _mlp(self, x: Float[Array, "seq dim"]) -> Float[Array, "seq dim"]:
        h = jax.vmap(self.mlp_norm)(x)
        return x + jax.vmap(lambda v: self.mlp_out(jax.nn.gelu(self.mlp_in(v))))(h)

    def __call__(
        self, x: Float[Array, "seq dim"], *, padding_mask: Bool[Array, " seq"] | None = None
    ) -> Float[Array, "seq dim"]:
        """Applies the block causally to a whole sequence.

        Args:
            x: Input sequence.
            padding_mask: True for real tokens.

        Returns:
            The output sequence.
        """
        x = x + self.attn(jax.vmap(self.attn_norm)(x), causal=True, padding_mask=padding_mask)
        return self._mlp(x)

    def decode(self, x: Float[Array, "new dim"], cache: KVCache) -> tuple[Float[Array, "new dim"], KVCache]:
        """Applies the block to new tokens, attending to the cached ones.

        Args:
            x: The new tokens' inputs.
            cache: This block's attention cache.

        Returns:
            The outputs and the updated cache.
        """
        attn_out, cache = self.attn.decode(jax.vmap(self.attn_norm)(x), cache)
        return self._mlp(x + attn_out), cache


class DecoderLM(eqx.Module):
    """A causal decoder-only language model with rotary positions and a tied output embedding."""

    embedding: LearnedEmbedding
    blocks: tuple[DecoderBlock, ...]
    final_norm: RMSNorm

    def __init__(
        self, vocab_size: int, dim: int, num_layers: int, num_heads: int, mlp_ratio: int = 4, *, key: PRNGKeyArray
    ) -> None:
        """Builds the model.

        Args:
            vocab_size: Number of tokens.
            dim: Model dimension.
            num_layers: Number of decoder blocks.
            num_heads: Attention heads per block.
            mlp_ratio: MLP width multiple.
            key: PRNG key for initialisation.
        """
        k_emb, *k_blocks = jax.random.split(key, num_layers + 1)
        self.embedding = LearnedEmbedding(vocab_size, dim, key=k_emb)
        self.blocks = tuple(DecoderBlock(dim, num_heads, mlp_ratio, key=k) for k in k_blocks)
        self.final_norm = RMSNorm(dim)

    def _logits(self, x: Float[Array, "seq dim"]) -> Float[Array, "seq vocab"]:
        return self.embedding.attend(jax.vmap(self.final_norm)(x))

    def __call__(
        self, tokens: Int[Array, " seq"], *, padding_mask: Bool[Array, " seq"] | None = None
    ) -> Float[Array, "seq vocab"]:
        """Next-token logits at every position.

        Args:
            tokens: Token ids.
            padding_mask: True for real tokens.

        Returns:
            Logits; row i predicts token i + 1.
        """
        x = self.embedding(tokens)
        for block in self.blocks:
            x = block(x, padding_mask=padding_mask)
        return self._logits(x)

    def init_cache(self, max_len: int) -> tuple[KVCache, ...]:
        """Empty caches, one per block.

        Args:
            max_len: Most tokens (prompt plus generated) the caches can hold.

        Returns:
            The caches.
        """
        return tuple(KVCache.empty(max_len, b.attn.num_heads, b.attn.head_dim) for b in self.blocks)

    def decode(
        self, tokens: Int[Array, " new"], caches: tuple[KVCache, ...]
    ) -> tuple[Float[Array, "new vocab"], tuple[KVCache, ...]]:
        """Logits for new tokens given the cached ones; appends the new tokens to the caches.

        Args:
            tokens: The new token ids.
            caches: One cache per block.

        Returns:
            The logits of the new positions and the updated caches.
        """
        x = self.embedding(tokens)
        new_caches = []
        for block, cache in zip(self.blocks, caches, strict=True):
            x, new_cache = block.decode(x, cache)
            new_caches.append(new_cache)
        return self._logits(x), tuple(new_caches)


def sample_token(
    logits: Float[Array, " vocab"], *, key: PRNGKeyArray, temperature: float = 1.0, top_k: int | None = None
) -> Int[Array, ""]:
    """Picks a token from logits: argmax when `temperature == 0`, else a tempered, optionally top-k, sample.

    Args:
        logits: Next-token logits.
        key: PRNG key.
        temperature: Softmax temperature; 0 means greedy.
        top_k: Keep only the k most likely tokens before sampling.

    Returns:
        The chosen token id.
    """
    if temperature == 0:
        return jnp.argmax(logits).astype(jnp.int32)
    logits = logits.astype(jnp.float32) / temperature
    if top_k is not None:
        threshold = jax.lax.top_k(logits, top_k)[0][-1]
        logits = jnp.where(logits < threshold, -jnp.inf, logits)
    return jax.random.categorical(key, logits).astype(jnp.int32)


def generate(
    model: DecoderLM,
    prompt: Int[Array, " prompt"],
    max_new_tokens: int,
    *,
    key: PRNGKeyArray,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> Int[Array, " total"]:
    """Extends `prompt` by `max_new_tokens` tokens with the KV cache (one prefill, then a `lax.scan`).

    Wrap in `eqx.filter_jit` for speed; `max_new_tokens`, `temperature` and `top_k` are then static.

    Args:
        model: The language model.
        prompt: Prompt token ids (at least one).
        max_new_tokens: Number of tokens to generate (at least one).
        key: PRNG key for sampling.
        temperature: Sampling temperature; 0 is greedy decoding.
        top_k: Optional top-k filter.

    Returns:
        The prompt followed by the generated tokens.
    """
    caches = model.init_cache(prompt.shape[0] + max_new_tokens)
    logits, caches = model.decode(prompt, caches)
    keys = jax.random.split(key, max_new_tokens)
    first = sample_token(logits[-1], key=keys[0], temperature=temperature, top_k=top_k)

    def step(
        carry: tuple[Int[Array, ""], tuple[KVCache, ...]], step_key: PRNGKeyArray
    ) -> tuple[tuple[Int[Array, ""], tuple[KVCache, ...]], Int[Array, ""]]:
        token, caches = carry
        logits, caches = model.decode(token[None], caches)
        nxt = sample_token(logits[-1], key=step_key, temperature=temperature, top_k=top_k)
        return (nxt, caches), nxt

    _, rest = jax.lax.scan(step, (first, caches), keys[1:])
    return jnp.concatenate([prompt.astype(jnp.int32), first[None], rest])
