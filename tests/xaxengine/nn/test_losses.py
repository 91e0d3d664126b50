import jax
import jax.numpy as jnp
import numpy as np
import optax

from xaxengine.nn import cross_entropy, epsilon_loss, kl_categoricals, kl_diag_gaussians, mse


def test_cross_entropy_matches_optax_and_smoothing_and_mask():
    logits = jax.random.normal(jax.random.key(0), (6, 5))
    labels = jnp.array([0, 1, 4, 2, 3, 3])
    ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    np.testing.assert_allclose(cross_entropy(logits, labels), ref.mean(), rtol=1e-6)
    smoothed_ref = optax.softmax_cross_entropy(logits, optax.smooth_labels(jax.nn.one_hot(labels, 5), 0.1))
    np.testing.assert_allclose(cross_entropy(logits, labels, label_smoothing=0.1), smoothed_ref.mean(), rtol=1e-5)
    mask = jnp.array([True, False, True, False, False, True])
    np.testing.assert_allclose(cross_entropy(logits, labels, mask=mask), ref[np.asarray(mask)].mean(), rtol=1e-6)


def test_mse_and_epsilon_loss():
    a = jnp.array([1.0, 2.0, 3.0])
    b = jnp.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(mse(a, b), 13.0 / 3.0, rtol=1e-6)
    np.testing.assert_allclose(mse(a, b, jnp.array([True, True, False])), 2.0, rtol=1e-6)
    np.testing.assert_allclose(epsilon_loss(a, b, 2.0), 26.0 / 3.0, rtol=1e-6)


def test_kl_gaussians_zero_for_identical_positive_otherwise_and_closed_form():
    m = jnp.array([0.5, -1.0])
    s = jnp.array([0.1, 0.3])
    np.testing.assert_allclose(kl_diag_gaussians(m, s, m, s), 0.0, atol=1e-6)
    assert kl_diag_gaussians(m, s, m + 0.1, s) > 0
    assert kl_diag_gaussians(m, s, m, s - 0.2) > 0
    # 1-D closed form: log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2
    kl = kl_diag_gaussians(jnp.array([0.0]), jnp.log(jnp.array([1.0])), jnp.array([1.0]), jnp.log(jnp.array([2.0])))
    np.testing.assert_allclose(kl, np.log(2.0) + 2.0 / 8.0 - 0.5, rtol=1e-5)


def test_kl_categoricals():
    p = jnp.array([[0.1, 2.0, -1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(kl_categoricals(p, p), 0.0, atol=1e-6)
    assert jnp.all(kl_categoricals(p, p[::-1]) > 0)
    # constant shifts of logits give the same distribution
    np.testing.assert_allclose(kl_categoricals(p, p + 3.0), 0.0, atol=1e-6)


def test_cross_entropy_gradient_matches_finite_differences():
    logits = jax.random.normal(jax.random.key(1), (3, 4))
    labels = jnp.array([1, 0, 3])

    def f(x):
        return cross_entropy(x, labels, label_smoothing=0.2)

    grad = np.asarray(jax.grad(f)(logits))
    eps = 1e-3
    for i, j in [(0, 0), (1, 2), (2, 3)]:
        d = jnp.zeros_like(logits).at[i, j].set(eps)
        fd = (f(logits + d) - f(logits - d)) / (2 * eps)
        np.testing.assert_allclose(grad[i, j], fd, atol=2e-4)
    # analytic: softmax - smoothed target, averaged over batch
    target = 0.8 * jax.nn.one_hot(labels, 4) + 0.2 / 4
    np.testing.assert_allclose(grad, (jax.nn.softmax(logits) - target) / 3, atol=1e-6)
