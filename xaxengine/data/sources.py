"""Choosing the training input path from what the task returns, and opening its loader at a saved state.

- ``get_data_iterator("train")`` returning an iterator: :class:`IteratorLoader`.
- ``datasets.IterableDataset`` (streaming): :class:`StreamBatches` through :class:`IteratorLoader`.
- Grain ``IterDataset``: its iterator (exact state) through :class:`IteratorLoader`.
- ``datasets.Dataset`` that fits ``data.host_max_bytes``, with no ``transform`` / ``batch_transform``, no
  ``data.pad_to`` and ``data.loader`` not ``grain``: the in-memory fast path (on the device when it fits
  ``data.device_max_bytes``).
- Otherwise (a larger or transformed ``datasets.Dataset``, a Grain ``MapDataset``, any ``__len__`` /
  ``__getitem__`` source): :class:`GrainLoader`.
"""

import time
from typing import Any

import jax
import numpy as np

from xaxengine.data.buckets import LengthBuckets, column_lengths
from xaxengine.data.grain_loader import GrainLoader, TaskHook
from xaxengine.data.iterators import IteratorLoader, StreamBatches
from xaxengine.data.loader import InMemoryLoader, Loader, position_from_state
from xaxengine.data.mapped_pages import MappedPages
from xaxengine.data.pread_rows import PreadRows
from xaxengine.data.transforms import BatchMaker
from xaxengine.task.mixins.dataloaders import DataloadersMixin
from xaxengine.task.mixins.sharding import Placement
from xaxengine.task.mixins.train_step import CallBatches


def overrides(task: Any, name: str) -> bool:
    """Whether the task's class overrides the engine's default hook ``name``."""
    return getattr(type(task), name) is not getattr(DataloadersMixin, name)


def dataset_nbytes(dataset: Any) -> int:
    """The Arrow size of a ``datasets.Dataset`` (memory-mapped: nothing is read to measure it)."""
    return int(dataset.data.nbytes)


def open_train_loader(task: Any, placement: Placement, seed: int, state: dict[str, Any], steps_left: int) -> Loader:
    """The training loader for the task's data, positioned at ``state`` (a checkpoint's ``loader`` meta).

    Args:
        task: The task (its ``get_dataset`` / ``get_data_iterator`` / ``transform`` hooks).
        placement: Puts batches on the layout's devices.
        seed: ``train.seed``.
        state: The saved loader state (empty at the start of a run).
        steps_left: Steps the run can still take.

    Raises:
        ValueError: A source the engine cannot read, or too few rows for one batch.
    """
    import datasets
    import grain

    cfg = task.config.data
    steps_per_call = task.config.train.steps_per_call
    iterator = task.get_data_iterator("train")
    if iterator is not None:
        _refuse_buckets(cfg, "get_data_iterator('train')")
        return IteratorLoader(iter(iterator), placement, state, cfg.batch_size)
    dataset = task.get_dataset("train")
    transform = TaskHook(task, "transform") if overrides(task, "transform") else None
    if isinstance(dataset, (datasets.IterableDataset, grain.IterDataset)):
        _refuse_buckets(cfg, f"a {type(dataset).__name__}")
    if isinstance(dataset, datasets.IterableDataset):
        buffer = cfg.shuffle_buffer if cfg.shuffle else 0
        rows = placement.local_rows(cfg.batch_size)
        split = placement.multi_process and rows != slice(None)
        if split:  # each process streams only its rows (its own shards: see xaxengine.data.iterators)
            from datasets.distributed import split_dataset_by_node

            dataset = split_dataset_by_node(dataset, rank=placement.process_index, world_size=jax.process_count())
        local_size = len(range(cfg.batch_size)[rows]) if split else cfg.batch_size
        stream = StreamBatches(dataset, local_size, seed, buffer, transform, {}, cfg.pad_to)
        return IteratorLoader(stream, placement, state, cfg.batch_size, per_process=split)
    if isinstance(dataset, grain.IterDataset):
        return IteratorLoader(iter(dataset), placement, state, cfg.batch_size)
    batch_transform = TaskHook(task, "batch_transform") if overrides(task, "batch_transform") else None
    if isinstance(dataset, datasets.Dataset) and _fast_path(cfg.loader, transform, batch_transform, dataset, cfg):
        columns, size = task.load_columns("train", dataset)
        columns = placement.put_columns(columns)
        batches = CallBatches(task.train_batches(size, seed, position_from_state(state)), steps_per_call)
        return InMemoryLoader(columns, batches, placement, isinstance(next(iter(columns.values())), jax.Array))
    if steps_per_call > 1:
        raise ValueError(
            f"train.steps_per_call={steps_per_call} needs the in-memory data path (a datasets.Dataset that fits "
            "data.host_max_bytes, no transform, data.loader = 'auto' or 'memory')"
        )
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise ValueError(
            f"get_dataset('train') returned a {type(dataset).__name__}; expected a datasets.Dataset or "
            "IterableDataset, a Grain MapDataset or IterDataset, or a source with __len__ and __getitem__"
        )
    if len(dataset) < cfg.batch_size:
        raise ValueError(f"train dataset has {len(dataset)} rows, fewer than data.batch_size={cfg.batch_size}")
    maker = BatchMaker(
        dataset,
        cfg.batch_size,
        seed,
        cfg.shuffle,
        transform,
        batch_transform,
        skip_errors=cfg.on_error == "skip",
        rows=placement.local_rows(cfg.batch_size),  # multi_process: this process's shard of each batch only
        pad_to=dict(cfg.pad_to),
        **mapped_reads(dataset, cfg),
        buckets=_length_buckets(task, dataset, cfg),
    )
    warn = lambda message: task.log_message("warning", message)  # noqa: E731
    return GrainLoader(maker, placement, state, steps_left, cfg.num_workers, cfg.prefetch, warn)


def _fast_path(loader: str, transform: Any, batch_transform: Any, dataset: Any, cfg: Any) -> bool:
    if (cfg.pad_to or cfg.bucket_by) and loader == "memory":
        which = "data.pad_to pads" if cfg.pad_to else "data.bucket_by buckets"
        raise ValueError(f"{which} examples on the Grain path; set data.loader = 'auto' or 'grain'")
    if loader != "auto":
        return loader == "memory"
    plain = transform is None and batch_transform is None and not cfg.pad_to and not cfg.bucket_by
    return plain and dataset_nbytes(dataset) <= cfg.host_max_bytes


def mapped_reads(dataset: Any, cfg: Any) -> dict[str, Any]:
    """How the Grain path reads a ``datasets.Dataset`` too large for ``data.host_max_bytes``: ``BatchMaker`` options.

    Fixed-size columns are read with ``os.pread`` (``pread_rows``: nothing mapped); others through the mapping,
    its pages bounded by ``data.mapped_max_bytes`` (``mapped_pages``). One that fits may stay mapped whole, as the
    in-memory path would hold it whole: no bound, no re-mapping cost.
    """
    import datasets

    if not isinstance(dataset, datasets.Dataset) or dataset_nbytes(dataset) <= cfg.host_max_bytes:
        return {}
    pread = PreadRows.of(dataset)
    if pread is not None and not cfg.pad_to and not cfg.bucket_by:
        return {"pread": pread}
    return {"pages": MappedPages.of(dataset, cfg.mapped_max_bytes)}


def _refuse_buckets(cfg: Any, source: str) -> None:
    if cfg.bucket_by:
        raise ValueError(
            f"data.bucket_by needs a random-access training set (a datasets.Dataset, a Grain MapDataset, a source "
            f"with __len__ and __getitem__); get_dataset('train') gave {source}"
        )


def _length_buckets(task: Any, dataset: Any, cfg: Any) -> LengthBuckets | None:
    """``data.bucket_by``'s buckets over the training set, its lengths read once (a log line says how long it took)."""
    if not cfg.bucket_by:
        return None
    start = time.perf_counter()
    lengths = column_lengths(dataset, cfg.bucket_by)
    buckets = LengthBuckets(cfg.bucket_by, lengths, tuple(cfg.bucket_lengths), cfg.bucket_window, cfg.shuffle)
    counts = np.bincount(np.searchsorted(buckets.boundaries, lengths), minlength=len(buckets.boundaries))
    spread = ", ".join(f"{n} up to {b}" for b, n in zip(buckets.boundaries, counts.tolist(), strict=True))
    task.log_message(
        "info",
        f"data.bucket_by={cfg.bucket_by}: {len(lengths)} lengths read in {time.perf_counter() - start:.1f}s; "
        f"examples per bucket: {spread}",
    )
    return buckets
