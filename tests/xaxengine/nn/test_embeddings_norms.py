import jax
import jax.numpy as jnp
import numpy as np

from xaxengine.nn import LayerNorm, LearnedEmbedding, RMSNorm, apply_rotary, sinusoidal_embedding, sinusoidal_positions


def test_learned_embedding_lookup_and_tied_attend():
    emb = LearnedEmbedding(11, 6, key=jax.random.key(0))
    tokens = jnp.array([[1, 2, 3], [0, 10, 4]])
    out = emb(tokens)
    assert out.shape == (2, 3, 6)
    np.testing.assert_array_equal(out[1, 1], emb.weight[10])
    logits = emb.attend(out)
    assert logits.shape == (2, 3, 11)
    np.testing.assert_allclose(logits[0, 0, 1], jnp.sum(emb.weight[1] ** 2), rtol=1e-6)


def test_sinusoidal_embedding_values_and_distinct_positions():
    e = sinusoidal_embedding(0.0, 8)
    np.testing.assert_allclose(e, np.r_[np.ones(4), np.zeros(4)])
    pos = sinusoidal_positions(16, 8)
    assert pos.shape == (16, 8)
    # every position gets a distinct code
    d = np.linalg.norm(np.asarray(pos)[:, None] - np.asarray(pos)[None], axis=-1)
    assert np.all(d[~np.eye(16, dtype=bool)] > 1e-3)
    np.testing.assert_allclose(pos[3], sinusoidal_embedding(3.0, 8), rtol=1e-6)


def test_rotary_preserves_norm_and_is_relative():
    key_q, key_k = jax.random.split(jax.random.key(1))
    q = jax.random.normal(key_q, (1, 2, 8))  # (seq, heads, head_dim)
    k = jax.random.normal(key_k, (1, 2, 8))

    def score(m: int, n: int) -> jax.Array:
        qm = apply_rotary(q, jnp.array([m]))
        kn = apply_rotary(k, jnp.array([n]))
        return jnp.sum(qm * kn, axis=-1)

    np.testing.assert_allclose(jnp.linalg.norm(apply_rotary(q, jnp.array([7]))), jnp.linalg.norm(q), rtol=1e-5)
    np.testing.assert_allclose(score(5, 2), score(13, 10), atol=1e-4)
    np.testing.assert_allclose(score(0, 0), score(9, 9), atol=1e-4)
    assert not np.allclose(score(5, 2), score(5, 4), atol=1e-3)


def test_norms():
    x = jnp.array([1.0, -2.0, 3.0, 0.5])
    rms = RMSNorm(4)(x)
    np.testing.assert_allclose(jnp.mean(rms**2), 1.0, rtol=1e-4)
    ln = LayerNorm(4)(x)
    np.testing.assert_allclose(jnp.mean(ln), 0.0, atol=1e-6)
    np.testing.assert_allclose(jnp.var(ln), 1.0, rtol=1e-3)
    # scale invariance of RMSNorm
    np.testing.assert_allclose(RMSNorm(4)(10 * x), rms, rtol=1e-5)
