"""The benchmark MLP trained from a file on disk (bench/data_ondisk.py writes it), in one of two source kinds.

``write`` writes ``rows`` examples (``x``: 784 float32, ``y``: the label of a fixed random linear teacher) in
chunks, never holding more than one: ``arrow`` as an Arrow stream that ``datasets.Dataset.from_file`` memory-maps
without reading it, ``records`` as fixed-size binary records read one row at a time with ``os.pread`` by
:class:`RecordFile` (a ``__len__`` / ``__getitem__`` source, no mapping). Validation is a small in-memory set (the
engine reads validation whole).
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import xaxengine as xax
from bench.mlp_task import CLASSES, INPUTS, BenchConfig, BenchMlpTask, synthetic_arrays

if TYPE_CHECKING:
    import datasets

CHUNK_ROWS = 32768


RECORD = np.dtype([("x", np.float32, (INPUTS,)), ("y", np.int32)])


def _chunks(rows: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((INPUTS, CLASSES)).astype(np.float32)
    for start in range(0, rows, CHUNK_ROWS):
        x = rng.standard_normal((min(CHUNK_ROWS, rows - start), INPUTS), dtype=np.float32)
        yield x, (x @ teacher).argmax(-1).astype(np.int32)


def write(path: Path, rows: int, kind: str, seed: int = 0) -> int:
    """Writes the dataset to ``path`` chunk by chunk as ``arrow`` or ``records``; returns the file's size in bytes."""
    import pyarrow as pa

    if kind == "records":
        with path.open("wb") as f:
            for x, y in _chunks(rows, seed):
                records = np.empty(len(x), RECORD)
                records["x"], records["y"] = x, y
                f.write(records.tobytes())
        return path.stat().st_size
    schema = pa.schema([("x", pa.list_(pa.float32(), INPUTS)), ("y", pa.int32())])
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for x, y in _chunks(rows, seed):
            column = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), INPUTS)
            writer.write_batch(pa.record_batch([column, pa.array(y)], schema=schema))
    return path.stat().st_size


class RecordFile:
    """A random-access source over a records file: row ``i`` read with one ``os.pread`` (picklable: path only)."""

    def __init__(self, path: str) -> None:
        """Opens nothing yet (each process opens its own descriptor on first read)."""
        self.path = path
        self.rows = os.path.getsize(path) // RECORD.itemsize
        self._fd: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.rows, self._fd = state["path"], state["rows"], None

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        """Row ``index`` as ``{"x", "y"}``."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        record = np.frombuffer(os.pread(self._fd, RECORD.itemsize, int(index) * RECORD.itemsize), RECORD)[0]
        return {"x": record["x"], "y": record["y"]}


@dataclass(kw_only=True)
class OnDiskConfig(BenchConfig):
    """Benchmark config plus the Arrow file to train from."""

    path: str = xax.field("", help="The file written by write.")
    kind: str = xax.field("arrow", help="'arrow' (memory-mapped datasets.Dataset) or 'records' (RecordFile).")


class OnDiskTask(BenchMlpTask):
    """Trains on the memory-mapped file; validates on 512 in-memory synthetic rows."""

    config_class = OnDiskConfig

    def get_dataset(self, phase: str) -> "datasets.Dataset | RecordFile":
        import datasets

        if phase == "train" and self.config.kind == "records":
            return RecordFile(self.config.path)
        if phase == "train":
            return datasets.Dataset.from_file(self.config.path)  # memory-mapped, nothing read yet
        x, y = synthetic_arrays()
        return datasets.Dataset.from_dict({"x": x[:512], "y": y[:512]})
