"""Data: Hugging Face datasets turned into column arrays once, batches gathered by index, deterministically.

Each epoch's order is a permutation drawn from ``(seed, epoch)``, so the loader position is just
``(epoch, offset)``: a resumed run sees exactly the batches the uninterrupted run would have.
"""

import abc
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from xaxengine.config.sections import Config
from xaxengine.task.mixins.base import BaseTask

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

logger = logging.getLogger(__name__)

Columns = dict[str, Any]


def gather(columns: Columns, idx: Any) -> Columns:
    """Selects the rows ``idx`` of every column (``idx`` None means the columns already are the batch)."""
    if idx is None:
        return columns
    return {k: v[idx] for k, v in columns.items()}


@dataclass
class LoaderPosition:
    """Where the training loader stands: the epoch and the offset of the next batch within it."""

    epoch: int = 0
    offset: int = 0


def _arrow_to_numpy(array: "pa.Array", name: str) -> np.ndarray:
    """Converts an arrow column to one dense numpy array; equal-length list levels become trailing dimensions."""
    import pyarrow as pa

    shape = [len(array)]
    while pa.types.is_list(array.type) or pa.types.is_large_list(array.type) or pa.types.is_fixed_size_list(array.type):
        if pa.types.is_fixed_size_list(array.type):
            width = array.type.list_size
        else:
            lengths = np.diff(np.asarray(array.offsets))
            width = int(lengths[0]) if len(lengths) else 0
            if len(lengths) and (lengths != width).any():
                raise ValueError(f"column '{name}' is ragged (rows of length {lengths.min()} to {lengths.max()})")
        shape.append(width)
        array = array.flatten()
    return array.to_numpy(zero_copy_only=False).reshape(shape)


def dataset_to_columns(dataset: "datasets.Dataset") -> dict[str, np.ndarray]:
    """Converts every column of a dataset to one numpy array (through arrow, keeping dtypes; float64 -> float32)."""
    return table_columns(dataset.with_format("arrow")[:], dataset.column_names)


def table_columns(table: "pa.Table", names: list[str]) -> dict[str, np.ndarray]:
    """Converts the named columns of an arrow table to numpy arrays (keeping dtypes; float64 -> float32)."""
    columns: dict[str, np.ndarray] = {}
    for name in names:
        array = _arrow_to_numpy(table.column(name).combine_chunks(), name)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        columns[name] = array
    return columns


class DataloadersMixin[ConfigT: Config](BaseTask[ConfigT]):
    """Loads the datasets once and yields index batches."""

    @abc.abstractmethod
    def get_dataset(self, phase: str) -> Any:
        """Returns the dataset for ``phase`` (``train`` or ``valid``). Users implement this.

        The training set may be a ``datasets.Dataset``, a ``datasets.IterableDataset``, a Grain ``MapDataset`` or
        ``IterDataset``, or any random-access source (``__len__`` / ``__getitem__`` returning a dict of arrays);
        the validation set any of those but an ``IterDataset`` (see ``docs/data.md``).
        """

    def get_data_iterator(self, phase: str) -> Any:
        """An iterator of ready batches (dicts of arrays) for ``phase``, or None (the default) to use the dataset.

        Resume is exact only when the iterator has ``get_state()`` / ``set_state(state)``; otherwise a resumed run
        replays (skips) the batches already seen, which is exact only if the iterator is deterministic.
        """
        del phase

    def transform(self, example: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-example work on the host (decode, augment, crop), in ``data.num_workers`` processes.

        ``rng`` is seeded from ``(seed, epoch, index)``, so the augmentation is reproducible. Overriding this
        routes training data through the Grain path.
        """
        del rng
        return example

    def valid_transform(self, example: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-example work on the validation set (decode, resize, tokenize), on the host; deterministic.

        ``transform`` is for training (augmentation); validation runs this instead. Overriding it routes the
        validation set through host batches (``xaxengine/data/valid_batches.py``).
        """
        return example

    def batch_transform(self, batch: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-batch work on the host after stacking (mixup, packing); ``rng`` is seeded from (seed, batch number)."""
        del rng
        return batch

    def load_columns(self, phase: str, dataset: Any = None) -> tuple[Columns, int]:
        """Loads a phase's dataset as column arrays, on the device when small enough; returns them and the length."""
        columns = dataset_to_columns(self.get_dataset(phase) if dataset is None else dataset)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"{phase} dataset columns have different lengths: {sorted(lengths)}")
        size = lengths.pop()
        if size < self.config.data.batch_size and phase == "train":
            raise ValueError(f"train dataset has {size} rows, fewer than data.batch_size={self.config.data.batch_size}")
        nbytes = sum(v.nbytes for v in columns.values())
        if nbytes <= self.config.data.device_max_bytes:
            return {k: jax.device_put(v) for k, v in columns.items()}, size
        logger.info("%s data (%.0f MB) stays on the host; batches are gathered per step", phase, nbytes / 2**20)
        return columns, size

    def epoch_permutation(self, size: int, seed: int, epoch: int) -> np.ndarray:
        """The order of one training epoch, a pure function of ``(seed, epoch)``."""
        if not self.config.data.shuffle:
            return np.arange(size, dtype=np.int32)
        return np.random.default_rng([seed, epoch]).permutation(size).astype(np.int32)

    def train_batches(self, size: int, seed: int, position: LoaderPosition) -> "TrainBatches":
        """Returns an iterator of index batches starting at ``position`` (drops each epoch's last partial batch)."""
        return TrainBatches(self, size, seed, position, self.config.data.batch_size)

    def valid_index_batches(self, size: int) -> list[np.ndarray]:
        """Index batches covering the validation set once (the last batch wraps around to stay full)."""
        batch = self.config.data.valid_batch_size or self.config.data.batch_size
        batch = min(batch, size)
        count = -(-size // batch)
        if self.config.data.valid_max_batches:
            count = min(count, self.config.data.valid_max_batches)
        return [(np.arange(i * batch, (i + 1) * batch) % size).astype(np.int32) for i in range(count)]


class TrainBatches:
    """Infinite iterator of training index batches with a resumable position."""

    def __init__(
        self, owner: DataloadersMixin[Any], size: int, seed: int, position: LoaderPosition, batch_size: int
    ) -> None:
        """Starts at ``position``."""
        self.owner, self.size, self.seed, self.batch_size = owner, size, seed, batch_size
        self.position = LoaderPosition(position.epoch, position.offset)
        self.permutation = owner.epoch_permutation(size, seed, self.position.epoch)

    def __iter__(self) -> "TrainBatches":
        return self

    def __next__(self) -> np.ndarray:
        if self.position.offset + self.batch_size > self.size:
            self.position = LoaderPosition(self.position.epoch + 1, 0)
            self.permutation = self.owner.epoch_permutation(self.size, self.seed, self.position.epoch)
        start = self.position.offset
        self.position.offset += self.batch_size
        return self.permutation[start : start + self.batch_size]
