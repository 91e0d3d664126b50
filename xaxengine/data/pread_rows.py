"""Reading a memory-mapped ``datasets.Dataset``'s fixed-size rows with ``os.pread``: no pages mapped, RSS flat.

Reading rows through the mapping maps a whole page-cache folio per row (``xaxengine.data.mapped_pages``), and
unmapping them again costs a fault per row. When every column is fixed-size (numbers, or fixed-size lists of them,
``datasets.Sequence(..., length=n)`` and ``Array`` of fixed shape stored that way) and has no nulls, each row of a
column is one contiguous byte range of its Arrow file, found once from the mapped table's own buffer addresses (minus
where ``/proc/self/maps`` says the file is mapped). :class:`PreadRows` then copies exactly those bytes with
``os.pread``: the page cache serves them, nothing is mapped. Any other column (strings, variable lists, nulls) keeps
the mapped read.

The layout is found per process (a Grain worker unpickles the dataset, maps it and finds its own addresses).
"""

import functools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from xaxengine.data.mapped_pages import Span, file_mappings


@dataclass(frozen=True)
class Chunk:
    """One Arrow chunk of one column: rows ``[start, start + rows)`` at ``offset`` in ``path``, ``stride`` apart."""

    start: int
    rows: int
    path: str
    offset: int
    stride: int


@dataclass(frozen=True)
class ColumnLayout:
    """Where a fixed-size column's rows are: its chunks, and each row's dtype and shape."""

    chunks: list[Chunk]
    dtype: np.dtype
    shape: tuple[int, ...]

    @functools.cached_property
    def starts(self) -> np.ndarray:
        """The chunks' first rows (found once, not per batch)."""
        return np.asarray([c.start for c in self.chunks])

    def chunk_of(self, row: int) -> Chunk:
        """The chunk holding physical row ``row``."""
        return self.chunks[int(np.searchsorted(self.starts, row, side="right")) - 1]


def _fixed_layout(array: Any) -> tuple[Any, int, np.dtype, tuple[int, ...]] | None:
    """``(values, first element, dtype, row shape)`` of a fixed-size, null-free Arrow array, or None."""
    import pyarrow as pa

    shape: list[int] = []
    first = array.offset
    while pa.types.is_fixed_size_list(array.type):
        if array.null_count:
            return None
        size = array.type.list_size
        shape.append(size)
        first = first * size
        array = array.values
        first += array.offset
    if array.null_count or not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        return None
    return array, first, np.dtype(array.type.to_pandas_dtype()), tuple(shape)


class PreadRows:
    """Rows of a memory-mapped ``datasets.Dataset`` read with ``os.pread`` (see the module docstring).

    Picklable: a worker gets the dataset (``datasets`` pickles it by its files) and finds its own layout.
    """

    def __init__(self, dataset: Any) -> None:
        """For ``dataset``; use :meth:`of` to check that it can be read this way."""
        self.dataset = dataset
        self._layouts: dict[str, ColumnLayout] | None = None
        self._fds: dict[str, int] = {}

    @classmethod
    def of(cls, dataset: Any) -> "PreadRows | None":
        """The reader for ``dataset``, or None when a column is not fixed-size or a table is not mapped."""
        reader = cls(dataset)
        return reader if reader.layouts() is not None else None

    def __getstate__(self) -> dict[str, Any]:
        return {"dataset": self.dataset}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["dataset"])

    def layouts(self) -> dict[str, ColumnLayout] | None:
        """Each column's layout in this process (found on the first call), or None when one cannot be read so."""
        if self._layouts is None:
            self._layouts = _find_layouts(self.dataset) or {}
        return self._layouts or None

    def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """The rows ``indices`` (logical, before the dataset's own indices mapping) as ``{column: array}``."""
        layouts = self.layouts()
        assert layouts is not None  # of() checked
        rows = _physical_rows(self.dataset, indices)
        out = {}
        for name, layout in layouts.items():
            row_bytes = layout.dtype.itemsize * int(np.prod(layout.shape, dtype=np.int64))
            buffer = bytearray(row_bytes * len(rows))
            for i, row in enumerate(rows.tolist()):
                chunk = layout.chunk_of(row)
                fd = self._fd(chunk.path)
                data = os.pread(fd, row_bytes, chunk.offset + (row - chunk.start) * chunk.stride)
                if len(data) != row_bytes:
                    raise OSError(f"{chunk.path}: short read of row {row} ({len(data)} of {row_bytes} bytes)")
                buffer[i * row_bytes : (i + 1) * row_bytes] = data
            array = np.frombuffer(buffer, layout.dtype).reshape(len(rows), *layout.shape)
            out[name] = array.astype(np.float32) if array.dtype == np.float64 else array
        return out

    def _fd(self, path: str) -> int:
        if path not in self._fds:
            self._fds[path] = os.open(path, os.O_RDONLY)
        return self._fds[path]


def _physical_rows(dataset: Any, indices: np.ndarray) -> np.ndarray:
    """The table rows of logical rows ``indices`` (through the dataset's indices mapping, after select/shuffle)."""
    mapping = getattr(dataset, "_indices", None)
    if mapping is None:
        return np.asarray(indices, np.int64)
    return np.asarray(mapping.column(0).take(np.asarray(indices, np.int64)).to_numpy(), np.int64)


def _reads_back(chunk: Chunk, mapped: np.ndarray, at: int) -> bool:
    """Whether ``pread`` at the chunk's file offset returns the bytes the mapping holds there (its first row)."""
    fd = os.open(chunk.path, os.O_RDONLY)
    try:
        return os.pread(fd, chunk.stride, chunk.offset) == mapped[at : at + chunk.stride].tobytes()
    finally:
        os.close(fd)


def _find_layouts(dataset: Any) -> dict[str, ColumnLayout] | None:
    """Every column's chunks in its mapped file, or None (a column not fixed-size, a block not mapped)."""
    blocks = _mapped_blocks(dataset)
    if blocks is None:
        return None
    spans = {b.path: file_mappings([b.path]) for b in blocks}  # the same file may be mapped more than once
    layouts = {name: _column_layout(name, blocks, spans) for name in dataset.column_names}
    if any(layout is None for layout in layouts.values()):
        return None
    return {name: layout for name, layout in layouts.items() if layout is not None}


def _mapped_blocks(dataset: Any) -> list[Any] | None:
    """The dataset's memory-mapped tables, in row order, or None when any part of it is not mapped from a file."""
    from datasets.table import ConcatenationTable, MemoryMappedTable

    table = getattr(dataset, "_data", None)
    if isinstance(table, MemoryMappedTable):
        return [table]
    if isinstance(table, ConcatenationTable) and all(len(row) == 1 for row in table.blocks):
        blocks = [row[0] for row in table.blocks]  # files concatenated row-wise
        return blocks if all(isinstance(b, MemoryMappedTable) for b in blocks) else None
    return None


def _column_layout(name: str, blocks: list[Any], spans: dict[str, list[Span]]) -> ColumnLayout | None:
    """One column's chunks over every block, or None when a chunk is not fixed-size in its file's mapping."""
    chunks: list[Chunk] = []
    kinds = set()
    for block in blocks:
        for array in block.table.column(name).chunks:
            found = _chunk(array, sum(c.rows for c in chunks), block.path, spans[block.path])
            if found is None:
                return None
            chunk, dtype, shape = found
            chunks.append(chunk)
            kinds.add((dtype, shape))
    if len(kinds) != 1:
        return None
    ((dtype, shape),) = kinds
    return ColumnLayout(chunks, dtype, shape)


def _chunk(array: Any, start: int, path: str, spans: list[Span]) -> tuple[Chunk, np.dtype, tuple[int, ...]] | None:
    """Where one Arrow chunk's rows are in ``path`` (mapped at ``spans``), checked by reading its first row back."""
    layout = _fixed_layout(array)
    if layout is None:
        return None
    values, first, dtype, shape = layout
    buffer = values.buffers()[1]
    address = buffer.address + first * dtype.itemsize
    stride = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    span = next((s for s in spans if s.start <= address and address + stride * len(array) <= s.end), None)
    if span is None:
        return None  # not in a mapping of the file (a replayed cast made it in memory)
    chunk = Chunk(start, len(array), path, span.offset + address - span.start, stride)
    if len(array) and not _reads_back(chunk, np.frombuffer(buffer, np.uint8), address - buffer.address):
        return None
    return chunk, dtype, shape
