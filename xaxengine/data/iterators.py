"""Loaders over iterators: a task's ``get_data_iterator``, a Grain ``IterDataset``, a streaming ``IterableDataset``.

Resume guarantees (``docs/data.md``):

- an iterator with ``get_state()`` / ``set_state(state)`` (Grain's) is restored exactly;
- any other iterator is replayed: the batches already consumed are drawn again and dropped, exact when the
  iterator is deterministic, and costing their reading time;
- a streaming ``datasets.IterableDataset`` is shuffled through a seeded buffer per epoch (``set_epoch``) and
  resumed by replaying the epoch's consumed examples (exact; the replay reads them again).

Under ``multi_process`` a streaming dataset is split between the processes (``split_dataset_by_node``: whole
shards when their count divides by the processes) and each process streams only its rows of every global batch;
its position differs from the others', so every process's is saved (gathered into the checkpoint) and each resumes
its own. An iterator may yield either the global batch (each process then ships its own rows) or only this
process's rows (``jax.process_index()`` says which; ``len`` is ``data.batch_size / jax.process_count()``).
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, cast

import numpy as np

from xaxengine.data.grain_loader import host_batch_arrays
from xaxengine.data.prefetch import DevicePrefetch
from xaxengine.data.transforms import DataError, Example, HostBatch, example_rng, stack
from xaxengine.task.mixins.sharding import Placement


class Stateful(Protocol):
    """An iterator whose position can be saved and restored (Grain's iterators, :class:`StreamBatches`)."""

    def get_state(self) -> Any:
        """The position after the items drawn so far."""
        ...

    def set_state(self, state: Any) -> None:
        """Moves to a saved position."""
        ...


class IteratorLoader:
    """Batches from a Python iterator of dicts of arrays; state: batches consumed and the iterator's own, if any."""

    kind = "iterator"

    def __init__(
        self,
        iterator: Iterator[Any],
        placement: Placement,
        state: dict[str, Any],
        batch_size: int = 0,
        per_process: bool = False,
    ) -> None:
        """Restores ``state`` (the iterator's own, or by replaying the consumed batches).

        Args:
            iterator: The batches.
            placement: Puts them on the layout's devices.
            state: The saved state (empty at the start of a run).
            batch_size: The global batch size (``data.batch_size``): an iterator yielding this process's rows of it
                is told apart by its length; 0 takes every batch as global.
            per_process: Each process's iterator has its own position (a split stream): every process's state is
                saved, and each restores its own.
        """
        self.iterator, self.placement = iterator, placement
        self.batch_size, self.per_process = batch_size, per_process and placement.multi_process
        self.consumed = int(state.get("batches", 0))
        exact = callable(getattr(iterator, "get_state", None)) and callable(getattr(iterator, "set_state", None))
        self.stateful = cast(Stateful, iterator) if exact else None
        self.exact = exact
        if self.consumed and self.stateful is not None and "iterator" in state:
            saved = state["iterator"]
            if self.per_process:
                saved = saved["per_process"][placement.process_index]
            self.stateful.set_state(saved)
        else:
            for _ in range(self.consumed):
                next(self.iterator)
        self._pending: tuple[tuple[Any, ...], Any] | None = None
        self._state_after: Any = self._iterator_state()
        # From here on only the prefetch thread reads the iterator: it keeps the next batches placed on the devices
        # while steps run, each with the iterator's state right after it (what a checkpoint after it records).
        self._prefetch = DevicePrefetch(self._fetch)

    def _iterator_state(self) -> Any:
        return self.stateful.get_state() if self.stateful is not None else None

    def _fetch(self) -> tuple[tuple[Any, ...], Any]:
        try:
            batch = next(self.iterator)
        except StopIteration:
            raise DataError(f"the training iterator ended after {self.consumed} batches") from None
        arrays = host_batch_arrays(batch)
        return self.placement.put_batch(arrays, self._local_size(arrays)), self._iterator_state()

    def _local_size(self, batch: HostBatch) -> int | None:
        """The global batch size when ``batch`` holds only this process's rows of it, else None (a global batch)."""
        if not (self.batch_size and self.placement.multi_process and batch):
            return None
        rows = len(next(iter(batch.values())))
        local = len(range(self.batch_size)[self.placement.local_rows(self.batch_size)])
        if rows == self.batch_size:
            return None
        if rows == local:
            return self.batch_size
        raise DataError(
            f"a training batch has {rows} rows; expected data.batch_size={self.batch_size} (the global batch) or "
            f"{local} (this process's rows of it)"
        )

    def example(self) -> tuple[Any, ...]:
        """The first batch (kept for the first :meth:`next`)."""
        if self._pending is None:
            self._pending = self._prefetch.get()
        return self._pending[0]

    def next(self) -> tuple[Any, ...]:
        """The next batch's step operands."""
        data, self._state_after = self._pending if self._pending is not None else self._prefetch.get()
        self._pending = None
        self.consumed += 1
        return data

    def get_state(self) -> dict[str, Any]:
        """``{"kind": "iterator", "batches": N}`` plus ``"iterator"``: the iterator's own state when it has one."""
        state: dict[str, Any] = {"kind": self.kind, "batches": self.consumed}
        if self.exact:
            state["iterator"] = self._state_after
            if self.per_process:  # a collective: every process saves at the same step
                state["iterator"] = {"per_process": self.placement.gather_json(self._state_after)}
        return state

    def close(self) -> None:
        """Stops the prefetch thread, then closes the iterator if it can be closed."""
        self._prefetch.close()
        close = getattr(self.iterator, "close", None)
        if callable(close):
            close()

    def pool_stats(self) -> None:
        """No pool the engine can see: the iterator builds its batches itself."""


class StreamBatches:
    """Batches of a streaming dataset: seeded shuffle buffer per epoch, per-example transform, resumable position.

    Its state is ``{"epoch", "examples"}``: the examples of the epoch consumed so far. Each epoch's partial last
    batch is dropped, like the other paths.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        seed: int,
        buffer_size: int,
        transform: Callable[[Example, np.random.Generator], Example] | None,
        state: dict[str, Any],
        pad_to: Mapping[str, int] | None = None,
    ) -> None:
        """Opens the stream at ``state`` (replaying the epoch's consumed examples); ``pad_to``: ``data.pad_to``."""
        self.dataset, self.batch_size, self.seed, self.buffer_size = dataset, batch_size, seed, buffer_size
        self.transform, self.pad_to = transform, pad_to
        self.epoch, self.examples = int(state.get("epoch", 0)), int(state.get("examples", 0))
        self._open(skip=self.examples)

    def _open(self, skip: int) -> None:
        stream = (
            self.dataset.shuffle(seed=self.seed, buffer_size=self.buffer_size) if self.buffer_size else self.dataset
        )
        stream.set_epoch(self.epoch)
        self._rows = iter(stream)
        for _ in range(skip):
            next(self._rows)

    def __iter__(self) -> "StreamBatches":
        return self

    def __next__(self) -> HostBatch:
        rows: list[Example] = []
        while len(rows) < self.batch_size:
            try:
                row = next(self._rows)
            except StopIteration:
                if not rows and self.examples == 0:
                    raise DataError("the streaming dataset is empty") from None
                self.epoch, self.examples, rows = self.epoch + 1, 0, []  # drop the epoch's partial batch
                self._open(skip=0)
                continue
            index = self.examples + len(rows)
            if self.transform is not None:
                try:
                    row = self.transform(row, example_rng(self.seed, self.epoch, index))
                except Exception as error:
                    where = f"example {index} of the stream (epoch {self.epoch})"
                    raise DataError(f"transform failed on {where}: {type(error).__name__}: {error}") from error
            rows.append(row)
        indices = np.arange(self.examples, self.examples + self.batch_size)
        self.examples += self.batch_size
        return stack(rows, indices, self.pad_to)

    def get_state(self) -> dict[str, Any]:
        """The position after the batches drawn so far."""
        return {"epoch": self.epoch, "examples": self.examples}

    def set_state(self, state: dict[str, Any]) -> None:
        """Reopens the stream at ``state``."""
        self.epoch, self.examples = int(state["epoch"]), int(state["examples"])
        self._open(skip=self.examples)
