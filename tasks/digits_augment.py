"""Digits with image augmentation in Grain workers: upscaled 8x8 -> 16x16, random 14x14 crop and horizontal flip.

The training set goes through the Grain path (the task has a ``transform``), built in ``data.num_workers``
processes; the validation set is center-cropped once and stays on the in-memory path. See ``docs/data.md``.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import numpy as np

import xaxengine as xax
from tasks.mnist import MnistConfig, MnistTask, load_digits_dataset
from xaxengine.arch import CNN, MLP

if TYPE_CHECKING:
    import datasets


@dataclass(kw_only=True)
class DigitsAugmentConfig(MnistConfig):
    """Augmented digits."""

    upscale: int = xax.field(2, help="Nearest-neighbour upscaling of the 8x8 digits before cropping.")
    crop: int = xax.field(14, help="Side of the random training crop (the center crop for validation).")
    flip: bool = xax.field(True, help="Flip training images horizontally with probability 1/2.")


def upscaled(phase: str, config: DigitsAugmentConfig) -> "datasets.Dataset":
    """The digits upscaled by ``config.upscale``; validation images center-cropped to ``config.crop``."""
    dataset = load_digits_dataset(phase, config.valid_fraction).with_format("numpy")
    images = np.kron(np.asarray(dataset["image"]), np.ones((config.upscale, config.upscale), np.float32))
    if phase == "valid":
        start = (images.shape[-1] - config.crop) // 2
        images = images[:, start : start + config.crop, start : start + config.crop]
    import datasets

    labels = np.asarray(dataset["label"]).astype(np.int32)
    return datasets.Dataset.from_dict({"image": images.astype(np.float32), "label": labels})


class DigitsAugmentTask(MnistTask):
    """The digits classifier trained on random crops and flips."""

    config_class = DigitsAugmentConfig

    def get_model(self, params: xax.InitParams) -> CNN | MLP:
        side = self.config.crop
        if self.config.model == "cnn":
            return CNN((1, side, side), 10, self.config.channels, key=params.key)
        return MLP(side * side, 10, [self.config.hidden] * self.config.depth, activation=jax.nn.gelu, key=params.key)

    def get_dataset(self, phase: str) -> "datasets.Dataset":
        return upscaled(phase, self.config)

    def transform(self, example: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        image, crop = example["image"], self.config.crop
        top, left = rng.integers(0, image.shape[0] - crop + 1, size=2)
        image = image[top : top + crop, left : left + crop]
        if self.config.flip and rng.random() < 0.5:
            image = image[:, ::-1]
        return {"image": np.ascontiguousarray(image), "label": example["label"]}


if __name__ == "__main__":
    raise SystemExit(DigitsAugmentTask.main())
