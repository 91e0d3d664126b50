"""Building one training batch from a random-access source: read rows, per-sample transform, stack, batch transform.

Batch ``k`` of a run is a pure function of ``(seed, k)``: its epoch and slot come from the number of full batches
per epoch, its rows from the epoch's seeded permutation (the same order as the in-memory path), and each example's
``rng`` from ``(seed, epoch, index)``. So the batches do not depend on which worker builds them, on how many
workers there are, or on where a run was resumed.
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xaxengine.data.buckets import LengthBuckets
from xaxengine.data.errors import DataError, one_line
from xaxengine.data.mapped_pages import MappedPages
from xaxengine.data.padding import PaddingError, pad_example
from xaxengine.data.pread_rows import PreadRows
from xaxengine.task.mixins.dataloaders import table_columns

Example = dict[str, Any]
HostBatch = dict[str, Any]  # column name -> numpy array (plus the skip markers below)
SKIPPED = "__skipped__"  # key of the batch dict carrying how many examples on_error="skip" replaced
SKIP_REASON = "__skip_reason__"  # and the first one's error line


def example_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator handed to ``transform`` for example ``index`` of ``epoch``."""
    return np.random.default_rng([seed, 0, epoch, index])


def batch_rng(seed: int, batch_number: int) -> np.random.Generator:
    """The generator handed to ``batch_transform`` for batch ``batch_number`` of the run."""
    return np.random.default_rng([seed, 1, batch_number])


def epoch_order(size: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The order of one epoch; the same function as the in-memory path's ``epoch_permutation``."""
    if not shuffle:
        return np.arange(size, dtype=np.int32)
    return np.random.default_rng([seed, epoch]).permutation(size).astype(np.int32)


def read_rows(source: Any, indices: np.ndarray, ragged: Collection[str] = ()) -> list[Example]:
    """Reads examples by index: a ``datasets.Dataset`` in one Arrow slice, any other source one ``[i]`` at a time.

    ``ragged`` columns (``data.pad_to``'s) may differ in length between rows: they are read row by row.
    """
    if _is_hf_dataset(source):
        table = source.with_format("arrow")[indices.tolist()]
        columns: dict[str, Any] = table_columns(table, [n for n in source.column_names if n not in ragged])
        for name in ragged:
            if name in source.column_names:
                columns[name] = [np.asarray(value) for value in table.column(name).to_pylist()]
        return [{k: columns[k][i] for k in source.column_names} for i in range(len(indices))]
    rows = []
    for index in indices.tolist():
        row = source[index]
        rows.append(row if isinstance(row, dict) else {"example": row})
    return rows


def stack(rows: list[Example], indices: np.ndarray, pad_to: Mapping[str, int] | None = None) -> HostBatch:
    """Stacks examples into columns; a column whose shape changes gets one line naming it and the example.

    Columns of ``pad_to`` are padded first, each with its ``<column>_mask`` (:mod:`xaxengine.data.padding`).
    """
    if pad_to:
        try:
            rows = [pad_example(row, index, pad_to) for row, index in zip(rows, indices.tolist(), strict=True)]
        except PaddingError as error:
            raise DataError(str(error)) from None
    batch: HostBatch = {}
    for name in rows[0]:
        first = np.shape(rows[0][name])
        for row, index in zip(rows, indices.tolist(), strict=True):
            if np.shape(row[name]) != first:
                raise DataError(
                    f"column '{name}' of example {index} has shape {np.shape(row[name])}, the batch's first has {first}"
                )
        array = np.stack([np.asarray(row[name]) for row in rows])
        batch[name] = array.astype(np.float32) if array.dtype == np.float64 else array
    return batch


@dataclass
class BatchMaker:
    """Builds batch ``k`` (picklable: Grain's worker processes each get a copy).

    Args:
        source: The random-access source (``__len__`` / ``__getitem__``).
        batch_size: Rows per batch.
        seed: The run's seed.
        shuffle: Shuffle each epoch.
        transform: ``transform(example, rng) -> example`` or None.
        batch_transform: ``batch_transform(batch, rng) -> batch`` or None.
        skip_errors: Replace an example whose transform raises by another row of the batch (counted), else fail.
        rows: The rows of each global batch this process builds (``multi_process``: its own shard; the other
            processes read the rest), all of them by default.
        pad_to: Variable-length columns padded to a fixed length, each with a ``<column>_mask`` (``data.pad_to``).
        pages: Bounds the memory-mapped dataset pages this reader keeps mapped (``data.mapped_max_bytes``), or None.
        pread: Reads a memory-mapped dataset's fixed-size rows with ``os.pread`` instead (nothing mapped), or None.
        hook: The task hook ``transform`` is (``valid_transform`` for validation), as error lines name it.
        buckets: Batches examples of similar length together, padded to a bucket length (``data.bucket_by``).
    """

    source: Any
    batch_size: int
    seed: int
    shuffle: bool
    transform: Callable[[Example, np.random.Generator], Example] | None
    batch_transform: Callable[[HostBatch, np.random.Generator], HostBatch] | None
    skip_errors: bool
    rows: slice = slice(None)
    pad_to: dict[str, int] = field(default_factory=dict)
    pages: MappedPages | None = None
    pread: PreadRows | None = None
    hook: str = "transform"
    buckets: LengthBuckets | None = None

    def __post_init__(self) -> None:
        """Caches the current epoch's order (each worker keeps its own)."""
        self.batches_per_epoch = len(self.source) // self.batch_size
        self.local_size = len(range(self.batch_size)[self.rows])
        self._order_epoch, self._order = -1, np.zeros(0, np.int32)

    def indices(self, batch_number: int) -> tuple[int, np.ndarray]:
        """The epoch and the example indices of global batch ``batch_number`` (an epoch's partial batch is dropped)."""
        epoch, slot = divmod(batch_number, self.batches_per_epoch)
        if epoch != self._order_epoch:
            self._order_epoch, self._order = epoch, epoch_order(len(self.source), self.seed, epoch, self.shuffle)
        if self.buckets is not None:
            return epoch, self.buckets.batch(self._order, self.seed, epoch, slot, self.batch_size)
        return epoch, self._order[slot * self.batch_size : (slot + 1) * self.batch_size]

    def padding(self, indices: np.ndarray) -> dict[str, int]:
        """The lengths the columns of the (global) batch ``indices`` are padded to: ``data.pad_to``, the bucket's."""
        if self.buckets is None:
            return self.pad_to
        return {**self.pad_to, self.buckets.column: self.buckets.padded_length(indices)}

    def __call__(self, batch_number: int) -> HostBatch:
        """Reads, transforms and stacks this process's rows of batch ``batch_number``."""
        epoch, indices = self.indices(int(batch_number))
        batch, skipped = self._read(indices[self.rows], epoch, self.padding(indices))
        if self.batch_transform is not None:
            try:
                batch = self.batch_transform(batch, batch_rng(self.seed, int(batch_number)))
            except Exception as error:
                raise DataError(f"batch_transform failed on batch {batch_number}: {one_line(error)}") from error
        if skipped:
            batch[SKIPPED], batch[SKIP_REASON] = np.asarray(skipped), self._first_failure
        return batch

    def read_batch(self, indices: np.ndarray) -> HostBatch:
        """This process's rows of the batch of examples ``indices`` (validation: epoch 0, no batch transform)."""
        batch, skipped = self._read(indices[self.rows], 0, self.pad_to)
        if skipped:
            batch[SKIPPED], batch[SKIP_REASON] = np.asarray(skipped), self._first_failure
        return batch

    def _read(self, indices: np.ndarray, epoch: int, pad_to: dict[str, int]) -> tuple[HostBatch, int]:
        """The rows ``indices`` read, transformed, padded to ``pad_to`` and stacked; returns the batch and skips."""
        skipped = 0
        if self.pread is not None and not pad_to:  # fixed-size rows of a mapped dataset: os.pread
            columns = self.pread.read(indices)
            if self.transform is None:
                return columns, 0
            rows = [{k: v[i] for k, v in columns.items()} for i in range(len(indices))]
            rows, skipped = self._transform_rows(rows, indices, epoch)
            return stack(rows, indices, pad_to), skipped
        reads = self.pages.reads(indices) if self.pages is not None else [indices]
        if self.transform is None and not pad_to and _is_hf_dataset(self.source):
            names, arrow = self.source.column_names, self.source.with_format("arrow")
            parts = [table_columns(arrow[part.tolist()], names) for part in reads]
            return (parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in names}), 0
        rows = [row for part in reads for row in read_rows(self.source, part, pad_to)]
        if self.transform is not None:
            rows, skipped = self._transform_rows(rows, indices, epoch)
        return stack(rows, indices, pad_to), skipped

    def _transform_rows(self, rows: list[Example], indices: np.ndarray, epoch: int) -> tuple[list[Example], int]:
        assert self.transform is not None
        out: list[Example | None] = []
        failures: list[str] = []
        for row, index in zip(rows, indices.tolist(), strict=True):
            try:
                out.append(self.transform(row, example_rng(self.seed, epoch, index)))
            except Exception as error:
                where = f"example {index} (epoch {epoch})" if self.hook == "transform" else f"example {index}"
                message = f"{self.hook} failed on {where}: {one_line(error)}"
                if not self.skip_errors:
                    raise DataError(message) from error
                failures.append(message)
                out.append(None)
        self._first_failure = failures[0] if failures else ""
        good = [row for row in out if row is not None]
        if not good:
            raise DataError(f"every example of the batch failed; first: {failures[0]}")
        return [row if row is not None else good[i % len(good)] for i, row in enumerate(out)], len(failures)


def _is_hf_dataset(source: Any) -> bool:
    """A ``datasets.Dataset`` (read in Arrow slices; ``datasets`` is not imported here, it is slow to import)."""
    return hasattr(source, "with_format") and hasattr(source, "column_names")
