"""Bucketing by length (``data.bucket_by``): examples of similar length batched together, padded to a few lengths.

Padding every batch of text to the longest example's length (``data.pad_to``) spends most of the step on padding
when lengths vary widely. With ``data.bucket_by = "tokens"`` and ``data.bucket_lengths = [64, 128, 256]``, each
epoch's order (the seeded permutation every path uses) is cut into windows of ``data.bucket_window`` batches; the
examples of a window are sorted by length, cut into batches, and those batches are shuffled (seeded by
``(seed, epoch, window)``). Each batch's ``tokens`` are then padded, with their ``tokens_mask``, to the smallest
bucket length that holds its longest example. The train step is compiled once per bucket length it meets.

Batch ``k`` is still a pure function of ``(seed, k)`` and of the examples' lengths, so resume stays exact and the
batches do not depend on the workers. Lengths are those of the source column, read once when the run starts (an
Arrow list column's offsets, without reading its values); a ``transform`` may shorten an example but not lengthen
it past its batch's bucket (one line names the example). The same length on every process makes the padded shape
agree between processes.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xaxengine.data.errors import DataError


def column_lengths(source: Any, column: str) -> np.ndarray:
    """The first-axis length of ``column`` in every example of ``source``, as int32.

    A ``datasets.Dataset``'s list column is measured from its Arrow offsets; any other source is read example by
    example (once, when the run starts).

    Raises:
        DataError: The column is missing or a scalar.
    """
    if hasattr(source, "with_format") and hasattr(source, "column_names"):
        if column not in source.column_names:
            raise DataError(f"data.bucket_by names column '{column}', which the dataset does not have")
        table = source.select_columns([column]).with_format("arrow")[:]
        array = table.column(column).combine_chunks()
        if hasattr(array.type, "list_size"):  # a fixed-size list: every example has the same length
            return np.full(len(array), array.type.list_size, np.int32)
        if not hasattr(array, "offsets"):
            raise DataError(f"column '{column}' (data.bucket_by) is not a list column: nothing to bucket by length")
        return np.diff(np.asarray(array.offsets)).astype(np.int32)
    lengths = np.zeros(len(source), np.int32)
    for index in range(len(source)):
        row = source[index]
        if column not in row:
            raise DataError(f"data.bucket_by names column '{column}', which example {index} does not have")
        value = np.asarray(row[column])
        if value.ndim == 0:
            raise DataError(f"column '{column}' of example {index} is a scalar; data.bucket_by groups sequences")
        lengths[index] = value.shape[0]
    return lengths


@dataclass
class LengthBuckets:
    """Which examples make up each batch, and the length it is padded to (picklable, for Grain's workers).

    Args:
        column: ``data.bucket_by``.
        lengths: Every example's length in that column (:func:`column_lengths`).
        boundaries: ``data.bucket_lengths``, ascending.
        window: ``data.bucket_window``: batches sorted together.
        shuffle: Shuffle the batches of each window (``data.shuffle``).
    """

    column: str
    lengths: np.ndarray
    boundaries: tuple[int, ...]
    window: int
    shuffle: bool
    _cache: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Names the first example longer than the last bucket (nothing is cut silently)."""
        too_long = np.flatnonzero(self.lengths > self.boundaries[-1])
        if len(too_long):
            index = int(too_long[0])
            raise DataError(
                f"column '{self.column}' of example {index} has length {int(self.lengths[index])}, more than the "
                f"last of data.bucket_lengths ({self.boundaries[-1]})"
            )

    def batch(self, order: np.ndarray, seed: int, epoch: int, slot: int, batch_size: int) -> np.ndarray:
        """The example indices of batch ``slot`` of ``epoch``, whose order (the epoch's permutation) is ``order``."""
        window, within = divmod(slot, self.window)
        key = (epoch, window)
        if key not in self._cache:
            if len(self._cache) > 4:
                self._cache.clear()
            self._cache[key] = self._window_batches(order, seed, epoch, window, batch_size)
        return self._cache[key][within]

    def _window_batches(self, order: np.ndarray, seed: int, epoch: int, window: int, batch_size: int) -> np.ndarray:
        full = len(order) // batch_size
        first, last = window * self.window, min((window + 1) * self.window, full)
        examples = order[first * batch_size : last * batch_size]
        by_length = examples[np.argsort(self.lengths[examples], kind="stable")]
        batches = by_length.reshape(last - first, batch_size)
        if self.shuffle:
            batches = batches[np.random.default_rng([seed, 2, epoch, window]).permutation(len(batches))]
        return batches

    def padded_length(self, indices: np.ndarray) -> int:
        """The smallest bucket length that holds every example of the (global) batch ``indices``."""
        longest = int(self.lengths[indices].max())
        return next(b for b in self.boundaries if b >= longest)
