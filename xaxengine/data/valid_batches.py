"""The validation set, read the way its kind needs: whole columns in memory, or host batches built per pass.

- ``get_data_iterator("valid")`` returning an iterator: its batches (a fresh iterator for every pass after the
  first).
- ``datasets.Dataset`` within ``data.host_max_bytes``, no ``data.pad_to`` and no ``valid_transform``: the columns
  in memory, on the device when they fit ``data.device_max_bytes`` (the in-memory path: each batch ships only its
  indices).
- ``datasets.IterableDataset`` (streaming): read in order, each pass from the start.
- Otherwise (a larger ``datasets.Dataset``, one with ``data.pad_to`` or ``valid_transform``, a Grain ``MapDataset``,
  any ``__len__`` / ``__getitem__`` source): the rows of each batch read, transformed and padded on the host, by the
  same :class:`BatchMaker` as training (memory-mapped reads bounded the same way).

Every pass covers the set in the same order, with ``data.valid_batch_size`` rows a batch (the training batch size by
default) and at most ``data.valid_max_batches`` batches (0: all). Every batch has the first one's shapes, so the eval
step compiles once: the last batch is completed with the set's first rows (as the in-memory path wraps around), and
a column whose shape changes from one batch to the next is one line naming the batch. Host batches are built on a
thread while the device evaluates the previous one.
"""

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Protocol

import jax
import numpy as np

from xaxengine.data.errors import one_line
from xaxengine.data.grain_loader import host_batch_arrays
from xaxengine.data.prefetch import DevicePrefetch
from xaxengine.data.sources import dataset_nbytes, mapped_reads, overrides
from xaxengine.data.transforms import SKIP_REASON, SKIPPED, BatchMaker, DataError, Example, HostBatch, stack
from xaxengine.task.mixins.sharding import Placement


class ValidBatches(Protocol):
    """One validation pass's step operands, and the first batch on the host."""

    def operands(self) -> Iterator[tuple[Any, Any]]:
        """The step operands of every batch of one pass, in order."""
        ...

    def first(self) -> tuple[Any, Any]:
        """The first batch's step operands (the eval step is compiled on them)."""
        ...

    def host_batch(self) -> dict[str, np.ndarray]:
        """The first batch on the host (``log_heavy``, ``log_valid_step``)."""
        ...


class InMemoryValid:
    """Validation columns held whole (on the device when they fit): each batch is its index array."""

    def __init__(self, columns: dict[str, Any], index_batches: list[np.ndarray], placement: Placement) -> None:
        """The columns, the index batches of one pass and the placement that ships them."""
        self.columns, self.index_batches, self.placement = columns, index_batches, placement
        self.on_device = isinstance(next(iter(columns.values())), jax.Array)

    def operands(self) -> Iterator[tuple[Any, Any]]:
        """Ships each pass's index batches (or host rows, when the columns stay on the host)."""
        for idx in self.index_batches:
            yield self.placement.step_data(self.columns, idx, self.on_device)

    def first(self) -> tuple[Any, Any]:
        """The first index batch's operands."""
        return self.placement.step_data(self.columns, self.index_batches[0], self.on_device)

    def host_batch(self) -> dict[str, np.ndarray]:
        """The first batch's rows, on the host."""
        return {k: np.asarray(v[self.index_batches[0]]) for k, v in self.columns.items()}


class HostValid:
    """Validation batches built on the host for every pass (streams, iterators, large or padded sources)."""

    def __init__(
        self,
        make_batches: Callable[[], Iterator[HostBatch]],
        placement: Placement,
        global_size: int | None = None,
        warn: Callable[[str], None] | None = None,
        whole_first: Callable[[], HostBatch] | None = None,
    ) -> None:
        """Binds the pass to its batches.

        Args:
            make_batches: Returns a new iterator over one pass's host batches.
            placement: Puts each batch on the layout's devices.
            global_size: The global batch size when each batch holds only this process's rows, else None.
            warn: Reports examples that ``data.on_error = "skip"`` replaced.
            whole_first: Builds the whole first batch when each process's batches hold only its rows.
        """
        self.make_batches, self.placement, self.global_size, self.warn = make_batches, placement, global_size, warn
        self.whole_first = whole_first
        self._first_host: dict[str, np.ndarray] | None = None

    def operands(self) -> Iterator[tuple[Any, Any]]:
        """Builds the pass's batches on a thread, each placed while the previous one is evaluated."""
        batches = complete_batches(self.make_batches())
        done = object()

        def produce() -> Any:
            try:
                batch = next(batches, None)
            except DataError as error:
                raise DataError(f"validation: {error}") from error
            return done if batch is None else self._place(batch)

        prefetch: DevicePrefetch[Any] = DevicePrefetch(produce, name="xax-valid-data")
        try:
            while (item := prefetch.get()) is not done:
                yield item
        finally:
            prefetch.close()

    def first(self) -> tuple[Any, Any]:
        """The first batch, placed.

        Raises:
            DataError: The validation data has no examples.
        """
        first = next(self.operands(), None)
        if first is None:
            raise DataError("validation: the validation data has no examples")
        return first

    def host_batch(self) -> dict[str, np.ndarray]:
        """The whole first batch on the host (built once)."""
        if self._first_host is None:
            first = self.whole_first() if self.whole_first is not None else next(iter(self.make_batches()), None)
            if first is None:
                raise DataError("validation: the validation data has no examples")
            self._first_host = _without_markers(first)
        return self._first_host

    def _place(self, batch: HostBatch) -> tuple[Any, Any]:
        skipped, reason = int(batch.pop(SKIPPED, 0)), batch.pop(SKIP_REASON, None)
        if skipped and self.warn is not None:
            self.warn(f"data.on_error=skip: skipped {skipped} validation example(s): {reason}")
        return self.placement.put_batch(batch, self.global_size)


def complete_batches(batches: Iterator[HostBatch]) -> Iterator[HostBatch]:
    """``batches`` with the first batch's shapes: a short last batch completed with the first batch's rows.

    Raises:
        DataError: A batch with other columns, more rows, or a column of another shape than the first batch's.
    """
    first: HostBatch | None = None
    for number, given in enumerate(batches):
        if first is None:
            first = given
            yield given
            continue
        batch = given
        rows, full = _rows(batch), _rows(first)
        if set(_without_markers(batch)) != set(_without_markers(first)):
            raise DataError(f"validation batch {number} has columns {sorted(batch)}, the first had {sorted(first)}")
        if rows > full:
            raise DataError(f"validation batch {number} has {rows} rows, more than the first batch's {full}")
        if rows < full:  # the last batch: completed with the first rows, as the in-memory path wraps around
            batch = {k: _completed(v, first[k], full) if k in first and np.ndim(v) else v for k, v in batch.items()}
        for name, value in _without_markers(batch).items():
            if np.shape(value) != np.shape(first[name]):
                raise DataError(
                    f"column '{name}' of validation batch {number} has shape {np.shape(value)}, the first batch's "
                    f"has {np.shape(first[name])} (data.pad_to pads variable-length columns)"
                )
        yield batch
        if rows < full:
            return


def _completed(value: np.ndarray, first: np.ndarray, full: int) -> np.ndarray:
    return np.concatenate([value, first[: full - len(value)]]) if np.ndim(first) else value


def _rows(batch: HostBatch) -> int:
    return len(next(v for k, v in batch.items() if k not in (SKIPPED, SKIP_REASON)))


def _without_markers(batch: HostBatch) -> dict[str, np.ndarray]:
    return {k: v for k, v in batch.items() if k not in (SKIPPED, SKIP_REASON)}


class ValidTransform:
    """The task's ``valid_transform(example)`` in :class:`BatchMaker`'s ``transform(example, rng)`` shape."""

    def __init__(self, task: Any) -> None:
        """Binds the task's hook."""
        self.task = task

    def __call__(self, example: Example, rng: np.random.Generator) -> Example:
        """Calls the hook (validation is deterministic: ``rng`` is not used)."""
        del rng
        return self.task.valid_transform(example)


def open_valid_batches(task: Any, placement: Placement, seed: int) -> ValidBatches | None:
    """The task's validation set as :class:`ValidBatches`, or None when it is empty.

    Raises:
        ValueError: A source the engine cannot read.
    """
    import datasets

    cfg = task.config.data
    batch_size = cfg.valid_batch_size or cfg.batch_size
    transform = ValidTransform(task) if overrides(task, "valid_transform") else None
    warn = lambda message: task.log_message("warning", message)  # noqa: E731
    pad_to = dict(cfg.pad_to)
    if cfg.bucket_by:  # one compiled eval step: the bucketed column padded to its last length
        pad_to[cfg.bucket_by] = cfg.bucket_lengths[-1]
    iterator = task.get_data_iterator("valid")
    if iterator is not None:
        fresh = iter([iterator])

        def from_iterator() -> Iterator[HostBatch]:
            source = next(fresh, None) or task.get_data_iterator("valid")
            return itertools.islice((host_batch_arrays(batch) for batch in source), cfg.valid_max_batches or None)

        return HostValid(from_iterator, placement, warn=warn)
    dataset = task.get_dataset("valid")
    if isinstance(dataset, datasets.IterableDataset):
        hook = task.valid_transform if transform is not None else None
        stream = StreamValid(dataset, batch_size, hook, pad_to)
        return HostValid(lambda: itertools.islice(stream, cfg.valid_max_batches or None), placement, warn=warn)
    plain = transform is None and not pad_to and cfg.loader != "grain"
    if isinstance(dataset, datasets.Dataset) and plain and dataset_nbytes(dataset) <= cfg.host_max_bytes:
        columns, size = task.load_columns("valid", dataset)
        if not size:
            return None
        return InMemoryValid(placement.put_columns(columns), task.valid_index_batches(size), placement)
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise ValueError(
            f"get_dataset('valid') returned a {type(dataset).__name__}; expected a datasets.Dataset or "
            "IterableDataset, a Grain MapDataset, or a source with __len__ and __getitem__"
        )
    if not len(dataset):
        return None
    index_batches = task.valid_index_batches(len(dataset))
    size = len(index_batches[0])
    maker = BatchMaker(
        dataset,
        size,
        seed,
        False,
        transform,
        None,
        skip_errors=cfg.on_error == "skip",
        rows=placement.local_rows(size),  # multi_process: this process's rows of each batch
        pad_to=pad_to,
        **mapped_reads(dataset, cfg),
        hook="valid_transform",
    )
    whole = replace(maker, rows=slice(None))
    return HostValid(
        lambda: (maker.read_batch(idx) for idx in index_batches),
        placement,
        size,
        warn,
        lambda: whole.read_batch(index_batches[0]),
    )


class StreamValid:
    """A streaming dataset read in order into batches of ``batch_size`` (the last one short), padded and transformed."""

    def __init__(
        self, dataset: Any, batch_size: int, transform: Callable[[Example], Example] | None, pad_to: dict[str, int]
    ) -> None:
        """The stream, the batch size, the task's ``valid_transform`` (or None) and ``data.pad_to``."""
        self.dataset, self.batch_size, self.transform, self.pad_to = dataset, batch_size, transform, pad_to

    def __iter__(self) -> Iterator[HostBatch]:
        """One pass from the start of the stream."""
        rows: list[Example] = []
        start = 0
        for index, read in enumerate(self.dataset):
            example = {k: np.asarray(v) for k, v in read.items()}
            if self.transform is not None:
                try:
                    example = self.transform(example)
                except Exception as error:
                    raise DataError(f"valid_transform failed on example {index}: {one_line(error)}") from error
            rows.append(example)
            if len(rows) == self.batch_size:
                yield stack(rows, np.arange(start, start + len(rows)), self.pad_to)
                rows, start = [], index + 1
        if rows:
            yield stack(rows, np.arange(start, start + len(rows)), self.pad_to)
