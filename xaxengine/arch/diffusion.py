"""Denoising diffusion (DDPM) schedules, training loss and DDPM/DDIM samplers with classifier-free guidance.

Everything is a pure function of a model callable `eps_fn(x, t, label) -> predicted noise` on one example, with
`t` the integer step index as a float and `label` an integer class (or None / the null label when unconditional).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from xaxengine.nn.losses import epsilon_loss

type EpsFn = Callable[[Array, Array, Array | None], Array]


class NoiseSchedule(eqx.Module):
    """Variances `beta_t` of the forward process and the derived `alpha_t = 1 - beta_t`, `alpha_bar_t`."""

    betas: Float[Array, " steps"]
    alphas: Float[Array, " steps"]
    alpha_bars: Float[Array, " steps"]

    def __init__(self, betas: Float[Array, " steps"]) -> None:
        """Derives the cumulative products.

        Args:
            betas: Per-step noise variances in (0, 1).
        """
        self.betas = jnp.asarray(betas, dtype=jnp.float32)
        self.alphas = 1.0 - self.betas
        self.alpha_bars = jnp.cumprod(self.alphas)

    @property
    def num_steps(self) -> int:
        """Number of diffusion steps T."""
        return self.betas.shape[0]


def linear_schedule(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """The DDPM linear schedule (Ho et al. 2020), rescaled so that fewer steps keep the same total noise.

    Args:
        num_steps: Number of steps T.
        beta_start: First beta for T = 1000.
        beta_end: Last beta for T = 1000.

    Returns:
        The schedule.
    """
    scale = 1000.0 / num_steps
    return NoiseSchedule(jnp.linspace(scale * beta_start, scale * beta_end, num_steps))


def cosine_schedule(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """The cosine schedule (Nichol & Dhariwal 2021): `alpha_bar(t) = cos^2((t/T + s) / (1 + s) * pi/2)`.

    Args:
        num_steps: Number of steps T.
        s: Small offset keeping early betas away from zero.
        max_beta: Clip for the last betas.

    Returns:
        The schedule.
    """
    t = jnp.linspace(0.0, 1.0, num_steps + 1)
    f = jnp.cos((t + s) / (1.0 + s) * jnp.pi / 2) ** 2
    betas = jnp.clip(1.0 - f[1:] / f[:-1], 0.0, max_beta)
    return NoiseSchedule(betas)


def q_sample(
    schedule: NoiseSchedule, x0: Float[Array, "*shape"], t: Int[Array, ""], noise: Float[Array, "*shape"]
) -> Float[Array, "*shape"]:
    """Samples `x_t ~ q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)` with the given noise.

    Args:
        schedule: Noise schedule.
        x0: Clean example.
        t: Step index in `[0, T)`.
        noise: Standard normal noise with the shape of `x0`.

    Returns:
        The noisy example.
    """
    alpha_bar = schedule.alpha_bars[t]
    return jnp.sqrt(alpha_bar) * x0 + jnp.sqrt(1.0 - alpha_bar) * noise


def guided_eps(
    eps_fn: EpsFn,
    x: Float[Array, "*shape"],
    t: Float[Array, ""],
    label: Int[Array, ""] | None,
    *,
    null_label: Int[Array, ""] | int | None,
    guidance_scale: float,
) -> Float[Array, "*shape"]:
    """Classifier-free guidance: `eps_u + w * (eps_c - eps_u)`; one model call when `w == 1` or no label.

    Args:
        eps_fn: The noise model.
        x: Noisy example.
        t: Step index as a float.
        label: Class label, or None for unconditional sampling.
        null_label: The label meaning "no class" (None passes None to the model).
        guidance_scale: Guidance weight w.

    Returns:
        The guided noise prediction.
    """
    if label is None or guidance_scale == 1.0:
        return eps_fn(x, t, label)
    eps_c = eps_fn(x, t, label)
    eps_u = eps_fn(x, t, None if null_label is None else jnp.asarray(null_label))
    return eps_u + guidance_scale * (eps_c - eps_u)


def diffusion_loss(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    x0: Float[Array, "*shape"],
    label: Int[Array, ""] | None = None,
    *,
    key: PRNGKeyArray,
    null_label: Int[Array, ""] | int | None = None,
    class_dropout: float = 0.0,
) -> Float[Array, ""]:
    """Epsilon-prediction loss for one example at a uniformly random step.

    With `class_dropout > 0` the label is replaced by `null_label` with that probability, which trains the
    unconditional model used by classifier-free guidance.

    Args:
        eps_fn: The noise model.
        schedule: Noise schedule.
        x0: Clean example.
        label: Its class label, if conditional.
        key: PRNG key for the step, the noise and the dropout.
        null_label: The "no class" label (needed when `class_dropout > 0`).
        class_dropout: Probability of dropping the label.

    Returns:
        The loss; average over a batch with `jax.vmap`.
    """
    t_key, noise_key, drop_key = jax.random.split(key, 3)
    t = jax.random.randint(t_key, (), 0, schedule.num_steps)
    noise = jax.random.normal(noise_key, x0.shape)
    if label is not None and class_dropout > 0.0:
        if null_label is None:
            raise ValueError("class_dropout needs a null_label")
        label = jnp.where(jax.random.bernoulli(drop_key, class_dropout), jnp.asarray(null_label), label)
    eps_pred = eps_fn(q_sample(schedule, x0, t, noise), t.astype(jnp.float32), label)
    return epsilon_loss(eps_pred, noise)


def ddpm_sample(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    x_init: Float[Array, "*shape"],
    *,
    key: PRNGKeyArray,
    label: Int[Array, ""] | None = None,
    null_label: Int[Array, ""] | int | None = None,
    guidance_scale: float = 1.0,
) -> Float[Array, "*shape"]:
    """DDPM ancestral sampling from `x_T = x_init` down to `x_0`, with posterior variance `beta_tilde_t`.

    Args:
        eps_fn: The noise model.
        schedule: Noise schedule.
        x_init: Starting noise `x_T` (standard normal).
        key: PRNG key for the per-step noise.
        label: Class to sample, or None.
        null_label: The "no class" label for guidance.
        guidance_scale: Classifier-free guidance weight.

    Returns:
        The sample `x_0`.
    """
    alpha_bars_prev = jnp.concatenate([jnp.ones((1,)), schedule.alpha_bars[:-1]])

    def step(x: Array, inputs: tuple[Int[Array, ""], PRNGKeyArray]) -> tuple[Array, None]:
        t, step_key = inputs
        eps = guided_eps(eps_fn, x, t.astype(jnp.float32), label, null_label=null_label, guidance_scale=guidance_scale)
        beta, alpha, alpha_bar = schedule.betas[t], schedule.alphas[t], schedule.alpha_bars[t]
        mean = (x - beta / jnp.sqrt(1.0 - alpha_bar) * eps) / jnp.sqrt(alpha)
        var = beta * (1.0 - alpha_bars_prev[t]) / (1.0 - alpha_bar)
        noise = jax.random.normal(step_key, x.shape)
        return mean + jnp.where(t > 0, jnp.sqrt(var), 0.0) * noise, None

    ts = jnp.arange(schedule.num_steps - 1, -1, -1)
    x0, _ = jax.lax.scan(step, x_init, (ts, jax.random.split(key, schedule.num_steps)))
    return x0


def ddim_sample(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    x_init: Float[Array, "*shape"],
    *,
    key: PRNGKeyArray,
    num_steps: int | None = None,
    eta: float = 0.0,
    label: Int[Array, ""] | None = None,
    null_label: Int[Array, ""] | int | None = None,
    guidance_scale: float = 1.0,
    clip_x0: float | None = None,
) -> Float[Array, "*shape"]:
    """DDIM sampling (Song et al. 2021) on an evenly spaced subsequence of steps.

    `eta = 0` is deterministic given `x_init`; `eta = 1` matches DDPM's noise level.

    Args:
        eps_fn: The noise model.
        schedule: Noise schedule.
        x_init: Starting noise `x_T`.
        key: PRNG key for the per-step noise (unused when `eta == 0`).
        num_steps: Number of sampling steps (defaults to the schedule's T).
        eta: Stochasticity in [0, 1].
        label: Class to sample, or None.
        null_label: The "no class" label for guidance.
        guidance_scale: Classifier-free guidance weight.
        clip_x0: Clip the predicted clean sample to [-clip_x0, clip_x0] each step (and re-derive the noise from
            it); keeps schedules whose first steps amplify errors, such as a clipped cosine, stable.

    Returns:
        The sample `x_0`.
    """
    n = schedule.num_steps if num_steps is None else num_steps
    if not 1 <= n <= schedule.num_steps:
        raise ValueError(f"num_steps must be in [1, {schedule.num_steps}], got {n}")
    ts = jnp.round(jnp.linspace(schedule.num_steps - 1, 0, n)).astype(jnp.int32)
    ts_prev = jnp.concatenate([ts[1:], jnp.array([-1], dtype=jnp.int32)])

    def step(x: Array, inputs: tuple[Int[Array, ""], Int[Array, ""], PRNGKeyArray]) -> tuple[Array, None]:
        t, t_prev, step_key = inputs
        eps = guided_eps(eps_fn, x, t.astype(jnp.float32), label, null_label=null_label, guidance_scale=guidance_scale)
        ab = schedule.alpha_bars[t]
        ab_prev = jnp.where(t_prev >= 0, schedule.alpha_bars[jnp.maximum(t_prev, 0)], 1.0)
        x0_pred = (x - jnp.sqrt(1.0 - ab) * eps) / jnp.sqrt(ab)
        if clip_x0 is not None:
            x0_pred = jnp.clip(x0_pred, -clip_x0, clip_x0)
            eps = (x - jnp.sqrt(ab) * x0_pred) / jnp.sqrt(1.0 - ab)
        sigma = eta * jnp.sqrt((1.0 - ab_prev) / (1.0 - ab) * (1.0 - ab / ab_prev))
        direction = jnp.sqrt(jnp.maximum(1.0 - ab_prev - sigma**2, 0.0)) * eps
        x_prev = jnp.sqrt(ab_prev) * x0_pred + direction
        if eta:
            x_prev = x_prev + sigma * jax.random.normal(step_key, x.shape)
        return x_prev, None

    x0, _ = jax.lax.scan(step, x_init, (ts, ts_prev, jax.random.split(key, n)))
    return x0
