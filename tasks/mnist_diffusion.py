"""Class-conditional diffusion on digits: a UNet noise model, DDPM training, DDIM/DDPM sampling with guidance.

``dataset = "digits"`` (default) uses scikit-learn's offline 8x8 digits; ``dataset = "mnist"`` loads ``ylecun/mnist``
from the Hugging Face hub (28x28), as in ``tasks/mnist``. Labels are dropped to the null label ``10`` with
probability ``class_dropout`` so the same network is also the unconditional model of classifier-free guidance.
``log_heavy`` samples a grid with one row per digit and logs it as an image (PNG artifact, ``image`` event,
TensorBoard), plus the pixel distribution, a weight histogram and one sample as a height-field ``mesh``.
"""

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

import xaxengine as xax
from tasks.mnist import load_digits_dataset, load_mnist_dataset
from xaxengine.arch import NoiseSchedule, UNet, cosine_schedule, ddim_sample, ddpm_sample, diffusion_loss
from xaxengine.arch import linear_schedule as linear_noise_schedule

if TYPE_CHECKING:
    import datasets

Batch = dict[str, Array]
NUM_CLASSES = 10


@dataclass(kw_only=True)
class DiffusionConfig(xax.SupervisedConfig):
    """Conditional diffusion settings."""

    dataset: Literal["digits", "mnist"] = xax.field(
        "digits", help="'digits' (offline, 8x8) or 'mnist' (HF hub, 28x28)."
    )
    valid_fraction: float = xax.field(0.1, help="Fraction of the digits set held out for validation.")
    channels: list[int] = xax.field([32, 64, 64], help="UNet width per resolution level (the first is full size).")
    embed_dim: int = xax.field(64, help="Dimension of the time and class embedding.")
    diffusion_steps: int = xax.field(200, help="Steps T of the forward noising process.")
    schedule: Literal["cosine", "linear"] = xax.field("linear", help="Noise schedule.")
    class_dropout: float = xax.field(
        0.1, help="Probability of training on the null label (for classifier-free guidance)."
    )
    sampler: Literal["ddim", "ddpm"] = xax.field("ddim", help="Sampler used by log_heavy and sample_images.")
    sample_steps: int = xax.field(50, help="DDIM steps (DDPM always takes diffusion_steps).")
    guidance_scale: float = xax.field(2.0, help="Classifier-free guidance weight w (1 = plain conditional model).")
    samples_per_class: int = xax.field(8, help="Columns of the logged sample grid (one row per digit).")
    image_scale: int = xax.field(4, help="Nearest-neighbour upscaling of the logged grid.")


def noise_schedule(cfg: DiffusionConfig) -> NoiseSchedule:
    """The configured noise schedule.

    Raises:
        ValueError: The linear schedule (DDPM's betas rescaled by ``1000 / T``) would need betas >= 1 (T < 21).
    """
    if cfg.schedule == "cosine":
        return cosine_schedule(cfg.diffusion_steps)
    if cfg.diffusion_steps * 0.98 < 20:  # beta_end = 0.02 * 1000 / T must stay below 0.98
        raise ValueError(f"schedule = 'linear' needs diffusion_steps >= 21, got {cfg.diffusion_steps}")
    return linear_noise_schedule(cfg.diffusion_steps)


def sample_images(
    model: UNet,
    schedule: NoiseSchedule,
    labels: Int[Array, " n"],
    key: PRNGKeyArray,
    *,
    shape: tuple[int, int, int],
    sampler: str = "ddim",
    sample_steps: int = 50,
    guidance_scale: float = 2.0,
) -> Float[Array, "n h w"]:
    """Samples one image per label with classifier-free guidance; wrap in ``eqx.filter_jit``.

    Args:
        model: The trained noise model.
        schedule: Its noise schedule.
        labels: Digit per sample.
        key: PRNG key.
        shape: ``(channels, height, width)`` of one image.
        sampler: ``"ddim"`` (deterministic, ``sample_steps`` steps) or ``"ddpm"`` (ancestral, every step).
        sample_steps: DDIM steps.
        guidance_scale: Guidance weight.

    Returns:
        Images in [0, 1] (first channel).
    """

    def one(label: Int[Array, ""], sample_key: PRNGKeyArray) -> Array:
        init_key, step_key = jax.random.split(sample_key)
        x_init = jax.random.normal(init_key, shape)
        if sampler == "ddpm":
            return ddpm_sample(
                model,
                schedule,
                x_init,
                key=step_key,
                label=label,
                null_label=NUM_CLASSES,
                guidance_scale=guidance_scale,
            )
        return ddim_sample(
            model,
            schedule,
            x_init,
            key=step_key,
            num_steps=sample_steps,
            label=label,
            null_label=NUM_CLASSES,
            guidance_scale=guidance_scale,
        )

    x0 = jax.vmap(one)(labels, jax.random.split(key, labels.shape[0]))
    return (jnp.clip(x0[:, 0], -1.0, 1.0) + 1.0) / 2.0


def height_field(image: Float[np.ndarray, "h w"]) -> tuple[np.ndarray, np.ndarray]:
    """A triangle mesh of an image as a surface: one vertex per pixel at height = intensity, two triangles per cell.

    Args:
        image: Grey image in [0, 1].

    Returns:
        ``(h * w, 3)`` vertices (x, y, z) and ``(2 * (h - 1) * (w - 1), 3)`` faces.
    """
    h, w = image.shape
    ys, xs = np.mgrid[0:h, 0:w]
    vertices = np.stack([xs.ravel(), (h - 1 - ys).ravel(), image.ravel() * max(h, w) / 4], axis=1).astype(np.float32)
    corner = (ys[:-1, :-1] * w + xs[:-1, :-1]).ravel()
    faces = np.concatenate(
        [np.stack([corner, corner + 1, corner + w], 1), np.stack([corner + 1, corner + w + 1, corner + w], 1)]
    )
    return vertices, faces.astype(np.int32)


class MnistDiffusionTask(xax.SupervisedTask[DiffusionConfig]):
    """Trains the epsilon-prediction loss; logs a class-conditional sample grid."""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(1, side, side)`` of the configured dataset."""
        side = 8 if self.config.dataset == "digits" else 28
        return (1, side, side)

    def get_model(self, params: xax.InitParams) -> UNet:
        cfg = self.config
        return UNet(1, cfg.channels, cfg.embed_dim, num_classes=NUM_CLASSES, key=params.key)

    def get_dataset(self, phase: str) -> "datasets.Dataset":
        if self.config.dataset == "mnist":
            return load_mnist_dataset(phase)
        return load_digits_dataset(phase, self.config.valid_fraction)

    def get_output(self, model: UNet, batch: Batch, state: xax.StepState, key: PRNGKeyArray) -> Float[Array, " batch"]:
        """Per-example diffusion losses at random steps (labels dropped with ``class_dropout``)."""
        images = 2.0 * batch["image"][:, None] - 1.0
        schedule = noise_schedule(self.config)

        def one(x0: Array, label: Array, example_key: PRNGKeyArray) -> Array:
            return diffusion_loss(
                model,
                schedule,
                x0,
                label,
                key=example_key,
                null_label=NUM_CLASSES,
                class_dropout=self.config.class_dropout,
            )

        return jax.vmap(one)(images, batch["label"], jax.random.split(key, images.shape[0]))

    def compute_loss(
        self, model: UNet, batch: Batch, output: Float[Array, " batch"], state: xax.StepState, key: PRNGKeyArray
    ) -> Float[Array, ""]:
        return output.mean()

    @functools.cached_property
    def _sample(self):  # noqa: ANN202 (a jitted callable)
        return eqx.filter_jit(sample_images)

    def sample(self, model: UNet, labels: np.ndarray, seed: int = 0) -> np.ndarray:
        """Samples one image per label with the configured sampler; returns ``(n, h, w)`` floats in [0, 1]."""
        cfg = self.config
        images = self._sample(
            model,
            noise_schedule(cfg),
            jnp.asarray(labels, jnp.int32),
            jax.random.PRNGKey(seed),
            shape=self.image_shape,
            sampler=cfg.sampler,
            sample_steps=cfg.sample_steps,
            guidance_scale=cfg.guidance_scale,
        )
        return np.asarray(images)

    def sample_grid(self, model: UNet, per_class: int, seed: int = 0) -> np.ndarray:
        """A ``(10 * per_class, h, w)`` batch of samples, digit ``d`` filling rows ``d * per_class ...``."""
        return self.sample(model, np.repeat(np.arange(NUM_CLASSES), per_class), seed)

    def log_heavy(self, model: UNet, batch: dict[str, np.ndarray], step: int) -> None:
        per_class, scale = self.config.samples_per_class, self.config.image_scale
        images = self.sample_grid(model, per_class, seed=step)
        upscaled = images.repeat(scale, axis=1).repeat(scale, axis=2)
        self.log_images(step, "samples/digits", upscaled, ncols=per_class)
        self.log_distribution(step, "samples/pixels", samples=images)
        self.log_histogram(step, "weights/out_conv", np.asarray(model.out_conv.weight))
        self.log_tree_histograms(step, "grads", self.compute_gradients(model, batch, step), max_leaves=4)
        vertices, faces = height_field(images[0])
        grey = np.repeat(images[0].reshape(-1, 1), 3, axis=1)
        self.log_mesh(step, "samples/height_field", vertices, faces, colors=grey)


if __name__ == "__main__":
    raise SystemExit(MnistDiffusionTask.main())
