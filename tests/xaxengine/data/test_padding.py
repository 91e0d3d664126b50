"""``data.pad_to``: variable-length columns padded to one length with a ``<column>_mask``, in-process and in a run."""

import datasets
import numpy as np
import pytest

from tests.conftest import run_engine
from tests.xaxengine.data.kill_resume import events, final_status, run_dir_of
from xaxengine.data.iterators import StreamBatches
from xaxengine.data.transforms import BatchMaker, DataError

TOML = "tests/xaxengine/data/padding.toml"


def ragged(size: int = 12) -> datasets.Dataset:
    """Row ``i`` holds ``tokens = [i] * (i % 5 + 1)``: lengths 1 to 5, stored as a ragged Arrow list column."""
    tokens = [[i] * (i % 5 + 1) for i in range(size)]
    return datasets.Dataset.from_dict({"tokens": tokens, "i": np.arange(size, dtype=np.int32)})


def test_a_ragged_column_is_padded_with_zeros_and_masked():
    maker = BatchMaker(ragged(), 4, 0, False, None, None, skip_errors=False, pad_to={"tokens": 6})
    batch = maker(1)  # rows 4..7: lengths 5, 1, 2, 3
    assert batch["tokens"].shape == (4, 6) and batch["tokens_mask"].dtype == np.bool_
    np.testing.assert_array_equal(batch["tokens_mask"].sum(axis=1), [5, 1, 2, 3])
    np.testing.assert_array_equal(batch["tokens"][1], [5, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(batch["tokens"][0], [4] * 5 + [0])
    np.testing.assert_array_equal(batch["i"], [4, 5, 6, 7])


def test_an_example_longer_than_pad_to_is_named():
    maker = BatchMaker(ragged(), 12, 0, False, None, None, skip_errors=False, pad_to={"tokens": 4})
    with pytest.raises(DataError, match=r"^column 'tokens' of example 4 has length 5, more than data.pad_to.tokens=4$"):
        maker(0)


def test_without_pad_to_a_ragged_column_fails_with_one_line():
    maker = BatchMaker(ragged(), 4, 0, False, None, None, skip_errors=False)
    with pytest.raises(ValueError, match="column 'tokens' is ragged"):
        maker(0)


def test_a_stream_is_padded_too():
    stream = StreamBatches(ragged().to_iterable_dataset(), 6, 0, 0, None, {}, {"tokens": 5})
    batch = next(stream)
    assert batch["tokens"].shape == (6, 5)
    np.testing.assert_array_equal(batch["tokens_mask"].sum(axis=1), [1, 2, 3, 4, 5, 1])


def test_a_task_with_variable_length_examples_trains_on_padded_batches(runs_dir):
    proc = run_engine("run", TOML, "--runs-dir", str(runs_dir), "--run-id", "pad")
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(runs_dir, "pad")
    train = [e["values"] for e in events(run_dir) if e["kind"] == "scalars" and e["phase"] == "train"]
    assert len(train) == 20
    # Lengths 32..64 of 64: about three quarters of the positions are real, the rest padding.
    assert all(0.5 < v["mask_frac"] < 1.0 for v in train), [v["mask_frac"] for v in train]

    bad = run_engine("run", TOML, "data.pad_to={}", "--runs-dir", str(runs_dir), "--run-id", "nopad")
    assert bad.returncode == 1
    reason = final_status(run_dir_of(runs_dir, "nopad"))["reason"]
    assert reason.startswith("DataError: column 'image' of example ") and "the batch's first has" in reason
