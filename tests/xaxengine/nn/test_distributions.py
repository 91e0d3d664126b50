import math

import jax
import jax.numpy as jnp
import numpy as np

from xaxengine.nn import Categorical, DiagGaussian, MixtureOfGaussians


def _normal_logpdf(x, mean, std):
    return np.sum(-0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi))


def test_diag_gaussian_log_prob_entropy_and_moments():
    mean = jnp.array([1.0, -2.0])
    std = jnp.array([0.5, 2.0])
    dist = DiagGaussian(mean=mean, log_std=jnp.log(std))
    x = jnp.array([0.3, 1.0])
    np.testing.assert_allclose(dist.log_prob(x), _normal_logpdf(np.asarray(x), np.asarray(mean), np.asarray(std)), 1e-5)
    np.testing.assert_allclose(dist.entropy(), np.sum(0.5 * np.log(2 * np.pi * np.e * np.asarray(std) ** 2)), 1e-5)
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.key(0), 20_000))
    np.testing.assert_allclose(samples.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(samples.var(0), std**2, rtol=0.05)


def test_categorical():
    logits = jnp.array([0.5, -1.0, 2.0, 0.0])
    dist = Categorical(logits=logits)
    np.testing.assert_allclose(jnp.sum(dist.probs), 1.0, rtol=1e-6)
    p = np.exp(np.asarray(logits)) / np.exp(np.asarray(logits)).sum()
    np.testing.assert_allclose(dist.log_prob(jnp.array(2)), np.log(p[2]), rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(), -np.sum(p * np.log(p)), rtol=1e-5)
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.key(1), 20_000))
    freq = np.bincount(np.asarray(samples), minlength=4) / samples.shape[0]
    np.testing.assert_allclose(freq, p, atol=0.02)
    assert math.isclose(float(Categorical(logits=jnp.zeros(5)).entropy()), math.log(5), rel_tol=1e-6)


def test_mixture_of_gaussians():
    means = jnp.array([[-3.0], [3.0]])
    log_stds = jnp.log(jnp.array([[0.5], [1.0]]))
    weights = np.array([0.25, 0.75])
    dist = MixtureOfGaussians(logits=jnp.log(jnp.asarray(weights)), means=means, log_stds=log_stds)
    x = np.array([0.7])
    comp = [np.exp(_normal_logpdf(x, np.asarray(means[i]), np.exp(np.asarray(log_stds[i])))) for i in range(2)]
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(x)), np.log(weights @ np.array(comp)), rtol=1e-5)
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.key(2), 20_000))
    np.testing.assert_allclose(samples.mean(), weights @ np.array([-3.0, 3.0]), atol=0.1)
    # Monte-Carlo entropy of well-separated components ~ H(weights) + sum_i w_i H(component_i)
    comp_h = 0.5 * np.log(2 * np.pi * np.e * np.array([0.25, 1.0]))
    expected = -np.sum(weights * np.log(weights)) + weights @ comp_h
    np.testing.assert_allclose(dist.entropy(key=jax.random.key(3), num_samples=4096), expected, atol=0.08)
