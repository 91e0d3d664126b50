"""Loss functions as pure functions of arrays (optax style)."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int


def masked_mean(values: Float[Array, "*shape"], mask: Bool[Array, "*shape"] | None = None) -> Float[Array, ""]:
    """Mean of `values` over the entries where `mask` is true (all entries when `mask` is None).

    Args:
        values: Values to average.
        mask: Which entries count; an all-false mask gives 0.

    Returns:
        The masked mean.
    """
    if mask is None:
        return jnp.mean(values)
    weights = mask.astype(values.dtype)
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def cross_entropy(
    logits: Float[Array, "*batch classes"],
    labels: Int[Array, "*batch"],
    *,
    label_smoothing: float = 0.0,
    mask: Bool[Array, "*batch"] | None = None,
) -> Float[Array, ""]:
    """Softmax cross entropy with integer labels, optional label smoothing and an optional mask.

    With smoothing `s` the target puts `1 - s` on the label and spreads `s` uniformly over all classes.

    Args:
        logits: Unnormalised log probabilities.
        labels: Class index of each example.
        label_smoothing: Smoothing amount in `[0, 1)`.
        mask: Which examples (or tokens) count towards the mean.

    Returns:
        The mean loss over the counted examples.
    """
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    nll = -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
    if label_smoothing:
        smooth = -jnp.mean(log_probs, axis=-1)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    return masked_mean(nll, mask)


def mse(
    predictions: Float[Array, "*shape"], targets: Float[Array, "*shape"], mask: Bool[Array, "*shape"] | None = None
) -> Float[Array, ""]:
    """Mean squared error.

    Args:
        predictions: Predicted values.
        targets: Target values.
        mask: Which entries count.

    Returns:
        The mean of the squared differences.
    """
    return masked_mean(jnp.square(predictions - targets), mask)


def kl_diag_gaussians(
    mean_p: Float[Array, "*batch dim"],
    log_std_p: Float[Array, "*batch dim"],
    mean_q: Float[Array, "*batch dim"],
    log_std_q: Float[Array, "*batch dim"],
) -> Float[Array, "*batch"]:
    """KL(p || q) between diagonal Gaussians, summed over the last axis.

    Args:
        mean_p: Mean of p.
        log_std_p: Log standard deviation of p.
        mean_q: Mean of q.
        log_std_q: Log standard deviation of q.

    Returns:
        The divergence per batch element.
    """
    var_ratio = jnp.exp(2.0 * (log_std_p - log_std_q))
    mean_term = jnp.square((mean_p - mean_q) * jnp.exp(-log_std_q))
    return 0.5 * jnp.sum(var_ratio + mean_term - 1.0 - 2.0 * (log_std_p - log_std_q), axis=-1)


def kl_categoricals(logits_p: Float[Array, "*batch n"], logits_q: Float[Array, "*batch n"]) -> Float[Array, "*batch"]:
    """KL(p || q) between categorical distributions given by logits.

    Args:
        logits_p: Logits of p.
        logits_q: Logits of q.

    Returns:
        The divergence per batch element.
    """
    log_p = jax.nn.log_softmax(logits_p, axis=-1)
    log_q = jax.nn.log_softmax(logits_q, axis=-1)
    return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)


def epsilon_loss(
    eps_pred: Float[Array, "*shape"], eps: Float[Array, "*shape"], weight: Float[Array, ""] | float = 1.0
) -> Float[Array, ""]:
    """Diffusion epsilon-prediction loss: weighted mean squared error between predicted and true noise.

    Args:
        eps_pred: Noise predicted by the model for one example.
        eps: The noise that was added.
        weight: Per-example weight (e.g. an SNR weighting); 1 gives the DDPM "simple" loss.

    Returns:
        The weighted loss.
    """
    return weight * jnp.mean(jnp.square(eps_pred - eps))
