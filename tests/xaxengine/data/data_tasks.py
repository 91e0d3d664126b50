"""Digit tasks over each input path: a per-sample augmentation (Grain workers), a stream, an iterator."""

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import xaxengine as xax
from tasks.mnist import MnistConfig, MnistTask, load_digits_dataset


@dataclass(kw_only=True)
class DataTaskConfig(MnistConfig):
    """Digits plus test switches."""

    fail_index: int = xax.field(-1, help="The transform raises on this example index (-1: never).")
    record_dir: str = xax.field("", help="The transform appends each example index to rank<XAX_PROCESS_ID>.txt here.")
    step_sleep_s: float = xax.field(0.0, help="A hook sleeps this long after every step (a loop slower than data).")
    arrow_dir: str = xax.field("", help="MappedDigitsTask: where the digits are saved as Arrow and memory-mapped.")
    fixed_size: bool = xax.field(False, help="MappedDigitsTask: store the images as fixed-size lists.")


def digits_with_index(phase: str, valid_fraction: float) -> Any:
    """The digits dataset with an ``index`` column, so a transform can tell examples apart."""
    dataset = load_digits_dataset(phase, valid_fraction)
    return dataset.add_column("index", np.arange(len(dataset), dtype=np.int32))


class AugmentedDigitsTask(MnistTask):
    """Random horizontal flip and pixel noise per example (seeded by the engine); raises on ``fail_index``."""

    config_class = DataTaskConfig

    def get_dataset(self, phase: str) -> Any:
        return digits_with_index(phase, self.config.valid_fraction)

    def get_hooks(self) -> list[xax.Hook]:
        if not self.config.step_sleep_s:
            return []
        return [xax.Hook(lambda *_: time.sleep(self.config.step_sleep_s), every_n_steps=1, name="slow loop")]

    def transform(self, example: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        if int(example["index"]) == self.config.fail_index:
            raise ValueError("unreadable image")
        if self.config.record_dir:  # the launcher sets XAX_PROCESS_ID per rank; Grain workers inherit it
            rank = os.environ.get("XAX_PROCESS_ID", "0")
            with open(Path(self.config.record_dir) / f"rank{rank}.txt", "a") as f:
                f.write(f"{int(example['index'])}\n")
        image = example["image"]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        noisy = image + rng.normal(0.0, 0.05, image.shape)
        return {**example, "image": noisy.astype(np.float32)}


class MappedDigitsTask(AugmentedDigitsTask):
    """The augmented digits saved to ``arrow_dir`` and read back memory-mapped (``load_from_disk``).

    ``fixed_size`` stores the images as fixed-size lists (``Sequence(..., length=8)``), which the engine reads with
    ``os.pread``; else as variable lists, read through the mapping.
    """

    def get_dataset(self, phase: str) -> Any:
        import datasets

        path = Path(self.config.arrow_dir) / f"{phase}-{'fixed' if self.config.fixed_size else 'lists'}"
        if not path.exists():
            dataset = digits_with_index(phase, self.config.valid_fraction)
            if self.config.fixed_size:
                row = datasets.Sequence(datasets.Value("float32"), length=8)
                dataset = dataset.cast_column("image", datasets.Sequence(row, length=8))
            dataset.save_to_disk(str(path))
        return datasets.load_from_disk(str(path))


class StreamingDigitsTask(MnistTask):
    """The digits as a streaming ``datasets.IterableDataset`` (shuffled through the engine's seeded buffer)."""

    def get_dataset(self, phase: str) -> Any:
        dataset = load_digits_dataset(phase, self.config.valid_fraction)
        return dataset.to_iterable_dataset(num_shards=4) if phase == "train" else dataset


class StreamingAugmentedTask(AugmentedDigitsTask):
    """The augmented digits (with ``index``, recorded per rank under ``record_dir``) as a 4-shard stream."""

    def get_dataset(self, phase: str) -> Any:
        dataset = digits_with_index(phase, self.config.valid_fraction)
        return dataset.to_iterable_dataset(num_shards=4) if phase == "train" else dataset

    def transform(self, example: dict[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
        # a stream's rows arrive as Python lists
        return super().transform(
            {k: np.asarray(v, np.float32 if k == "image" else None) for k, v in example.items()}, rng
        )


class IteratorDigitsTask(MnistTask):
    """Batches from ``get_data_iterator``: a deterministic generator (no get_state: resumed by replay)."""

    def get_data_iterator(self, phase: str) -> Iterator[dict[str, np.ndarray]] | None:
        if phase != "train":
            return None
        dataset = load_digits_dataset(phase, self.config.valid_fraction).with_format("numpy")
        images, labels = np.asarray(dataset["image"]), np.asarray(dataset["label"]).astype(np.int32)
        batch = self.config.data.batch_size

        def batches() -> Iterator[dict[str, np.ndarray]]:
            for epoch in range(10**6):
                order = np.random.default_rng([7, epoch]).permutation(len(labels))
                for start in range(0, len(order) - batch + 1, batch):
                    chosen = order[start : start + batch]
                    yield {"image": images[chosen], "label": labels[chosen]}

        return batches()


def ragged_valid_length(index: int) -> int:
    """The length RaggedDigitsTask cuts validation example ``index`` to (deterministic: 32 to 64 pixels)."""
    return 32 + index % 33


class StreamingValidTask(MnistTask):
    """In-memory training; the validation set as a streaming ``datasets.IterableDataset``."""

    def get_dataset(self, phase: str) -> Any:
        dataset = load_digits_dataset(phase, self.config.valid_fraction)
        return dataset.to_iterable_dataset(num_shards=1) if phase == "valid" else dataset


class IteratorValidTask(MnistTask):
    """In-memory training; ``get_data_iterator("valid")`` yields the validation digits with every label off by one.

    Batches of 50, the last one short: a model that learned the digits scores near 0 accuracy on them, so the
    validation events tell which set was evaluated.
    """

    def get_data_iterator(self, phase: str) -> Iterator[dict[str, np.ndarray]] | None:
        if phase != "valid":
            return None
        dataset = load_digits_dataset(phase, self.config.valid_fraction).with_format("numpy")
        images, labels = np.asarray(dataset["image"]), (np.asarray(dataset["label"]).astype(np.int32) + 1) % 10
        return ({"image": images[i : i + 50], "label": labels[i : i + 50]} for i in range(0, len(labels), 50))


class RaggedDigitsTask(MnistTask):
    """Each flattened digit cut to a random length of 32 to 64 pixels: variable-length examples for ``data.pad_to``.

    Validation cuts each example to :func:`ragged_valid_length` (``valid_transform``; raises on ``fail_index``).
    Logs ``mask_frac``, the share of real (unpadded) positions the step saw in ``image_mask``.
    """

    config_class = DataTaskConfig

    def get_dataset(self, phase: str) -> Any:
        return digits_with_index(phase, self.config.valid_fraction)

    def transform(self, example: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        pixels = np.asarray(example["image"], np.float32).reshape(-1)
        return {**example, "image": pixels[: int(rng.integers(32, 65))]}

    def valid_transform(self, example: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if int(example["index"]) == self.config.fail_index:
            raise ValueError("unreadable image")
        pixels = np.asarray(example["image"], np.float32).reshape(-1)
        return {**example, "image": pixels[: ragged_valid_length(int(example["index"]))]}

    def compute_metrics(self, model, batch, output, loss, state) -> dict[str, Any]:
        metrics = super().compute_metrics(model, batch, output, loss, state)
        if "image_mask" in batch:
            metrics["mask_frac"] = batch["image_mask"].mean()
        return metrics


def bucketed_length(index: int) -> int:
    """The length BucketedDigitsTask cuts example ``index`` to: 16 to 64 pixels."""
    return 16 + index % 49


class BucketedDigitsTask(MnistTask):
    """Flattened digits stored cut to :func:`bucketed_length` pixels: a ragged source column for ``data.bucket_by``.

    The model pads each batch back to 64 inside the step (the padded length is static there), so every bucket
    length trains the same MLP. Logs ``padded_len`` (the batch's padded length) and ``max_len`` (its longest
    example).
    """

    config_class = DataTaskConfig

    def get_dataset(self, phase: str) -> Any:
        import datasets

        dataset = load_digits_dataset(phase, self.config.valid_fraction).with_format("numpy")
        images = np.asarray(dataset["image"]).reshape(len(dataset), -1)
        cut = [images[i, : bucketed_length(i)].tolist() for i in range(len(images))]
        return datasets.Dataset.from_dict({"image": cut, "label": np.asarray(dataset["label"])})

    def get_output(self, model, batch, state, key):
        import jax
        import jax.numpy as jnp

        images = batch["image"]
        images = jnp.pad(images, ((0, 0), (0, 64 - images.shape[1])))
        return jax.vmap(model)(images)

    def compute_metrics(self, model, batch, output, loss, state) -> dict[str, Any]:
        import jax.numpy as jnp

        metrics = super().compute_metrics(model, batch, output, loss, state)
        metrics["padded_len"] = jnp.float32(batch["image"].shape[1])
        metrics["max_len"] = batch["image_mask"].sum(axis=1).max().astype(jnp.float32)
        metrics["mask_frac"] = batch["image_mask"].mean()
        return metrics
