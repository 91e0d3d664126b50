"""Bucketing by length (``data.bucket_by``): batches of similar lengths, padded to a few lengths, exact on resume."""

import itertools

import datasets
import numpy as np
import pytest

from tests.conftest import run_engine
from tests.xaxengine.data.data_tasks import bucketed_length
from tests.xaxengine.data.kill_resume import events, run_dir_of
from xaxengine.data.buckets import LengthBuckets, column_lengths
from xaxengine.data.errors import DataError
from xaxengine.data.transforms import BatchMaker

TOML = "tests/xaxengine/data/bucketed.toml"
BOUNDARIES = (32, 48, 64)


def _train(run_dir) -> dict[int, dict]:
    return {e["step"]: e["values"] for e in events(run_dir) if e["kind"] == "scalars" and e["phase"] == "train"}


@pytest.fixture(scope="module")
def bucketed(tmp_path_factory: pytest.TempPathFactory):
    runs = tmp_path_factory.mktemp("runs")
    proc = run_engine("run", TOML, "--runs-dir", str(runs), "--run-id", "whole")
    assert proc.returncode == 0, proc.stderr
    return runs, run_dir_of(runs, "whole")


def test_each_batch_is_padded_to_the_smallest_bucket_that_holds_it(bucketed):
    _, run_dir = bucketed
    train = _train(run_dir)
    assert sorted(train) == list(range(1, 31))
    for values in train.values():
        fits = next(b for b in BOUNDARIES if b >= values["max_len"])
        assert values["padded_len"] == fits
    assert len({v["padded_len"] for v in train.values()}) >= 2  # several buckets met, each compiled once
    compiles = [e["name"] for e in events(run_dir) if e["kind"] == "compile" and e["name"].startswith("train_step")]
    assert len(compiles) == len(set(compiles)) == len({v["padded_len"] for v in train.values()})
    # sorted windows pad far less than padding everything to 64 would (lengths 16..64: 0.625 real)
    unbucketed = np.mean([bucketed_length(i) for i in range(49)]) / 64
    assert np.mean([v["mask_frac"] for v in train.values()]) > unbucketed + 0.1


def test_a_resumed_bucketed_run_sees_the_same_batches(bucketed):
    runs, run_dir = bucketed
    first = run_engine("run", TOML, "train.max_steps=15", "--runs-dir", str(runs), "--run-id", "split")
    assert first.returncode == 0, first.stderr
    resumed = run_engine("run", "--resume", "split", "train.max_steps=30", "--runs-dir", str(runs))
    assert resumed.returncode == 0, resumed.stderr
    split, whole = _train(run_dir_of(runs, "split")), _train(run_dir)
    assert sorted(split) == sorted(whole)
    assert [split[s]["loss"] for s in sorted(split)] == [whole[s]["loss"] for s in sorted(whole)]


def _buckets(lengths: np.ndarray, window: int = 4, shuffle: bool = True) -> LengthBuckets:
    return LengthBuckets("tokens", lengths, BOUNDARIES, window, shuffle)


def test_a_window_is_sorted_by_length_into_batches_and_covers_its_examples_once():
    lengths = np.random.default_rng(0).integers(1, 65, 200).astype(np.int32)
    buckets, order = _buckets(lengths), np.random.default_rng(1).permutation(200)
    batches = [buckets.batch(order, 0, 0, slot, 10) for slot in range(20)]
    for window in range(5):
        chosen = np.concatenate(batches[4 * window : 4 * window + 4])
        assert sorted(chosen.tolist()) == sorted(order[40 * window : 40 * window + 40].tolist())
        spans = sorted((lengths[b].min(), lengths[b].max()) for b in batches[4 * window : 4 * window + 4])
        assert all(hi <= lo_next for (_, hi), (lo_next, _) in itertools.pairwise(spans))
    again = _buckets(lengths)  # a fresh copy (a worker, a resumed run) gives the same batches
    assert all((again.batch(order, 0, 0, s, 10) == batches[s]).all() for s in range(20))
    assert not all((again.batch(order, 0, 1, s, 10) == batches[s]).all() for s in range(4))  # the next epoch differs


def test_a_batch_maker_pads_its_rows_to_the_bucket_of_the_whole_batch():
    tokens = [[i] * (i % 60 + 1) for i in range(40)]
    source = datasets.Dataset.from_dict({"tokens": tokens})
    lengths = column_lengths(source, "tokens")
    assert lengths.tolist() == [i % 60 + 1 for i in range(40)]
    buckets = _buckets(lengths, window=2)
    maker = BatchMaker(source, 8, 0, True, None, None, skip_errors=False, buckets=buckets, rows=slice(0, 4))
    for number in range(5):
        _, indices = maker.indices(number)
        batch = maker(number)
        fits = next(b for b in BOUNDARIES if b >= lengths[indices].max())
        assert batch["tokens"].shape == (4, fits)  # this process's 4 rows, padded for all 8
        np.testing.assert_array_equal(batch["tokens_mask"].sum(axis=1), lengths[indices[:4]])


def test_an_example_longer_than_the_last_bucket_is_named():
    with pytest.raises(DataError, match=r"^column 'tokens' of example 2 has length 70, more than the last of"):
        _buckets(np.array([5, 9, 70, 80], np.int32))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data.bucket_lengths=[]"], "data.bucket_by and data.bucket_lengths are set together"),
        (["data.bucket_lengths=[48, 32]"], r"data.bucket_lengths=\[48, 32\] must be positive and strictly ascending"),
        (["data.bucket_by=label"], "column 'label' \\(data.bucket_by\\) is not a list column"),
    ],
)
def test_bad_bucket_settings_are_one_line(runs_dir, args, message):
    import re

    proc = run_engine("run", TOML, *args, "--runs-dir", str(runs_dir))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
