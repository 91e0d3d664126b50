"""Streaming ``IterableDataset`` and ``get_data_iterator`` sources: they train, and resume after SIGKILL exactly."""

import pytest

from tests.conftest import run_engine
from tests.xaxengine.data.kill_resume import events, kill_after_first_checkpoint, run_dir_of, train_losses


@pytest.mark.parametrize("source", ["stream", "iterator"])
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, source):
    toml = f"tests/xaxengine/data/{source}.toml"
    reference_runs, runs = tmp_path / "ref", tmp_path / "runs"
    reference_runs.mkdir()
    runs.mkdir()
    done = run_engine("run", toml, "--runs-dir", str(reference_runs), "--run-id", "r")
    assert done.returncode == 0, done.stderr
    reference = train_losses(run_dir_of(reference_runs, "r"))
    assert sorted(reference) == list(range(1, 61))
    assert len(set(reference.values())) > 30, "the losses do not move; the test could not tell batches apart"

    run_dir, _ = kill_after_first_checkpoint(runs, "k", toml)
    assert max(train_losses(run_dir)) < 60, "the run finished before the kill; nothing was resumed"
    resumed = run_engine("resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert train_losses(run_dir) == reference
    starts = [e for e in events(run_dir) if e["kind"] == "run_start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] >= 20


def test_an_iterator_may_yield_the_global_batch_or_this_processs_rows_and_nothing_else():
    import numpy as np
    import pytest

    from xaxengine.data.iterators import IteratorLoader
    from xaxengine.data.transforms import DataError

    class TwoProcesses:  # what IteratorLoader asks of a placement, as process 0 of 2 sees it
        multi_process, process_index = True, 0

        def local_rows(self, size):
            return slice(0, size // 2)

        def put_batch(self, batch, size=None):
            return batch, size

    def loader(rows):
        return IteratorLoader(iter([{"x": np.zeros((rows, 3))}]), TwoProcesses(), {}, batch_size=64)

    assert loader(64).next()[1] is None  # the global batch: the placement ships this process's rows of it
    assert loader(32).next()[1] == 64  # this process's rows: placed as its part of a 64-row batch
    with pytest.raises(DataError, match=r"has 40 rows; expected data.batch_size=64 \(the global batch\) or 32"):
        loader(40).next()
