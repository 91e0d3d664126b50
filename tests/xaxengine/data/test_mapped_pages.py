"""A memory-mapped datasets.Dataset read through the Grain path keeps its mapped file pages bounded, data intact."""

from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pytest

from xaxengine.data.mapped_pages import MappedPages, arrow_files, file_mappings, resident_file_bytes
from xaxengine.data.transforms import BatchMaker

ROWS, WIDTH = 24_000, 784  # 3.1 KB rows, 75 MB
ROWS_PER_BATCH = 4


def write_arrow(path: Path) -> np.ndarray:
    """An Arrow stream file of ``ROWS`` rows (``x``: WIDTH float32, ``y``: the row number); returns ``x``."""
    x = np.random.default_rng(0).standard_normal((ROWS, WIDTH), dtype=np.float32)
    schema = pa.schema([("x", pa.list_(pa.float32(), WIDTH)), ("y", pa.int32())])
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for start in range(0, ROWS, 4000):
            part = x[start : start + 4000]
            column = pa.FixedSizeListArray.from_arrays(pa.array(part.reshape(-1)), WIDTH)
            writer.write_batch(pa.record_batch([column, pa.array(np.arange(start, start + len(part)))], schema=schema))
    return x


def read_epoch(maker: BatchMaker, batches: int) -> tuple[list[dict[str, np.ndarray]], int]:
    """Builds ``batches`` batches; returns them and the largest growth of this process's resident file pages."""
    before, peak, out = resident_file_bytes(), 0, []
    for k in range(batches):
        out.append(maker(k))
        peak = max(peak, resident_file_bytes() - before)
    return out, peak


def test_mapped_pages_stay_bounded_and_rows_read_the_same(tmp_path: Path) -> None:
    x = write_arrow(tmp_path / "data.arrow")
    dataset = datasets.Dataset.from_file(str(tmp_path / "data.arrow"))
    assert arrow_files(dataset) == [str(tmp_path / "data.arrow")]
    pages = MappedPages.of(dataset, max_bytes=4 * 2**20)
    assert pages is not None
    # Few rows per batch: the kernel maps a whole page-cache folio (up to 2 MiB) per fault, so one batch of many
    # random rows can map a file this small whole.
    maker = BatchMaker(dataset, ROWS_PER_BATCH, 0, True, None, None, False, pages=pages)
    batches, peak = read_epoch(maker, 150)
    assert pages.releases > 0
    # The bound is checked before each batch: the growth stays within it plus what one batch maps.
    assert peak < 4 * 2**20 + ROWS_PER_BATCH * 2 * 2**20 + 2**20, f"file pages grew by {peak / 2**20:.1f} MiB"
    for k, batch in enumerate(batches):  # the rows after every release are the file's rows, bitwise
        _, indices = maker.indices(k)
        np.testing.assert_array_equal(batch["y"], indices)
        np.testing.assert_array_equal(batch["x"], x[indices])

    no_release = MappedPages.of(dataset, max_bytes=0)
    unbounded = BatchMaker(dataset, ROWS_PER_BATCH, 0, True, None, None, False, pages=no_release)
    _, unbounded_peak = read_epoch(unbounded, 150)
    assert unbounded_peak > 2 * peak, (unbounded_peak, peak)  # the bound is what kept it small


def test_in_memory_tables_are_never_advised() -> None:
    dataset = datasets.Dataset.from_dict({"x": np.ones((300, 4), np.float32)})
    assert arrow_files(dataset) == []
    assert MappedPages.of(dataset, max_bytes=1) is None


def test_only_the_files_own_mappings_are_found(tmp_path: Path) -> None:
    path = str(tmp_path / "a.arrow")
    maps = (
        f"7f0000000000-7f0000100000 r--s 00000000 08:01 42 {path}\n"
        "7f0000100000-7f0000200000 rw-p 00000000 00:00 0 \n"
        f"7f0000200000-7f0000300000 r--s 00000000 08:01 43 {path}.other\n"
        "7f0000300000-7f0000400000 rw-p 00000000 00:00 0 [heap]\n"
    )
    assert file_mappings([path], maps) == [(0x7F0000000000, 0x7F0000100000)]


@pytest.mark.parametrize("max_bytes", [0, 2**20])
def test_the_watcher_pickles_to_paths_only(tmp_path: Path, max_bytes: int) -> None:
    import pickle

    pages = MappedPages([str(tmp_path / "a.arrow")], max_bytes)
    pages._spans = [(1, 2)]
    copy = pickle.loads(pickle.dumps(pages))
    assert (copy.paths, copy.max_bytes, copy._spans) == (pages.paths, max_bytes, None)


def test_a_mapped_dataset_trains_the_same_with_its_pages_released_before_every_read(runs_dir: Path) -> None:
    from tests.conftest import run_engine
    from tests.xaxengine.data.kill_resume import run_dir_of, train_losses

    losses = {}
    for name, mapped_max_bytes in (("kept", 0), ("released", 1)):
        args = (
            "task=tests.xaxengine.data.data_tasks:MappedDigitsTask",
            f"arrow_dir={runs_dir / 'arrow'}",
            "data.host_max_bytes=1000",  # the 0.5 MB digits count as too large: the Grain path, pages bounded
            f"data.mapped_max_bytes={mapped_max_bytes}",
            "train.max_steps=30",
        )
        proc = run_engine(
            "run", "tests/xaxengine/data/augment.toml", *args, "--runs-dir", str(runs_dir), "--run-id", name
        )
        assert proc.returncode == 0, proc.stderr
        losses[name] = train_losses(run_dir_of(runs_dir, name))
    assert (runs_dir / "arrow" / "train" / "dataset_info.json").exists(), "the mapped task did not run"
    assert sorted(losses["kept"]) == list(range(1, 31))
    assert losses["released"] == losses["kept"]  # bitwise, through two Grain workers
