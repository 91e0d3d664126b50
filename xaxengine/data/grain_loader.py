"""The Grain path: batches built by :class:`BatchMaker` in ``data.num_workers`` processes, resumable by batch number.

The pipeline is ``MapDataset.range(k0, k1).map(BatchMaker)``, prefetched by ``mp_prefetch`` workers. Grain's own
iterator state depends on the worker count, so the loader saves its own: the ``(epoch, offset)`` of the next batch,
the same position the in-memory path saves. Batch ``k`` is a pure function of ``(seed, k)``, so changing
``num_workers`` between a kill and a resume does not change the data.
"""

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from xaxengine.data.pool_stats import CountedMaker, PoolCounters, PoolStats
from xaxengine.data.prefetch import DevicePrefetch
from xaxengine.data.transforms import SKIP_REASON, SKIPPED, BatchMaker, DataError, HostBatch
from xaxengine.data.workers import WorkerInit, dead_worker, mark_flags_parsed, quiet_resource_tracker
from xaxengine.task.mixins.sharding import Placement


class TaskHook:
    """A task's hook method that pickles as (task class, config, name) and rebuilds the task in a worker process."""

    def __init__(self, task: Any, name: str) -> None:
        """Binds ``task.name``."""
        self.task_class, self.config, self.name = type(task), task.config, name
        self._bound: Callable[..., Any] | None = getattr(task, name)

    def __getstate__(self) -> dict[str, Any]:
        return {"task_class": self.task_class, "config": self.config, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.task_class, self.config, self.name = state["task_class"], state["config"], state["name"]
        self._bound = None

    def __call__(self, *args: Any) -> Any:
        """Calls the hook (on a fresh task built from the config, the first time, in a worker)."""
        if self._bound is None:
            self._bound = getattr(self.task_class(self.config), self.name)
        return self._bound(*args)


class GrainLoader:
    """Batches from a Grain pipeline over a random-access source, placed on the mesh for each step."""

    kind = "grain"

    def __init__(
        self,
        maker: BatchMaker,
        placement: Placement,
        state: dict[str, Any],
        num_batches: int,
        num_workers: int,
        prefetch: int,
        warn: Callable[[str], None],
    ) -> None:
        """Starts the pipeline at the saved position.

        Args:
            maker: Builds batch ``k``.
            placement: Puts host batches on the devices.
            state: The saved ``{"epoch", "offset"}`` (empty: the start).
            num_batches: How many batches the run can still ask for.
            num_workers: Worker processes (0: threads of this process).
            prefetch: Batches buffered per worker.
            warn: Reports skipped examples (one line each).
        """
        import grain

        self.maker, self.placement, self.warn = maker, placement, warn
        per_epoch = maker.batches_per_epoch
        self.next_batch = int(state.get("epoch", 0)) * per_epoch + int(state.get("offset", 0)) // maker.batch_size
        self.skipped = int(state.get("skipped", 0))
        self.counters = PoolCounters(max(num_workers, 1))
        self.taken = 0
        self.pool = PoolStats(self.counters, num_workers, prefetch, lambda: self.taken)
        counted = CountedMaker(maker, self.counters, self.next_batch, maker.local_size)
        dataset = grain.MapDataset.range(self.next_batch, self.next_batch + num_batches + 1).map(counted)
        iterable = dataset.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=max(prefetch, 1)))
        if num_workers > 0:
            mark_flags_parsed()
            quiet_resource_tracker()
            options = grain.MultiprocessingOptions(num_workers=num_workers, per_worker_buffer_size=max(prefetch, 1))
            iterable = iterable.mp_prefetch(options, worker_init_fn=WorkerInit(self.counters))
        self._iterator: Iterator[HostBatch] = iter(iterable)
        self._pending: tuple[Any, ...] | None = None
        self._prefetch = DevicePrefetch(self._fetch)  # the next batches placed while the step runs

    def _fetch(self) -> tuple[tuple[Any, ...], int, Any]:
        """The next batch off the pipeline, placed (runs on the prefetch thread): ``(operands, skipped, why)``."""
        try:
            batch = dict(next(self._iterator))
        except DataError:
            raise
        except Exception as error:
            line = dead_worker(self.counters.pids(), error)
            if line is None:
                raise
            raise DataError(line) from error
        skipped = int(batch.pop(SKIPPED, 0))
        reason = batch.pop(SKIP_REASON, None)
        return self.placement.put_batch(batch, self.maker.batch_size), skipped, reason

    def _take(self) -> tuple[Any, ...]:
        """The next placed batch from the prefetch thread; counts it and reports its skipped examples."""
        data, skipped, reason = self._prefetch.get()
        self.taken += 1
        if skipped:
            self.skipped += skipped
            self.warn(
                f"data.on_error=skip: skipped {skipped} example(s) in batch {self.next_batch} ({self.skipped} "
                f"so far){': ' + str(reason) if reason is not None else ''}"
            )
        return data

    def example(self) -> tuple[Any, ...]:
        """The first batch (kept, and handed out by the first :meth:`next`)."""
        if self._pending is None:
            self._pending = self._take()
        return self._pending

    def next(self) -> tuple[Any, ...]:
        """The next batch's step operands ``(batch, None)``."""
        data = self._pending if self._pending is not None else self._take()
        self._pending = None
        self.next_batch += 1
        return data

    def get_state(self) -> dict[str, Any]:
        """``{"kind": "grain", "epoch", "offset", "skipped"}`` of the next batch to hand out."""
        epoch, slot = divmod(self.next_batch, self.maker.batches_per_epoch)
        offset = slot * self.maker.batch_size
        return {"kind": self.kind, "epoch": epoch, "offset": offset, "skipped": self.skipped}

    def pool_stats(self) -> dict[str, Any]:
        """The worker pool's rate, busy share and ready batches since the last call (``stats`` events' ``data``)."""
        return {"path": self.kind, **self.pool.sample()}

    def close(self) -> None:
        """Stops the prefetch thread and the worker processes."""
        self._prefetch.close()
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()
        self.counters.remove()


def host_batch_arrays(batch: dict[str, Any]) -> dict[str, np.ndarray]:
    """A batch from an iterator as numpy arrays (float64 -> float32, like the other paths)."""
    out = {}
    for name, value in batch.items():
        array = np.asarray(value)
        out[name] = array.astype(np.float32) if array.dtype == np.float64 else array
    return out
