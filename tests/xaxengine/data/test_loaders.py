"""The loaders in-process: batch contents are pure functions of (seed, batch number), states restore exactly."""

import threading
import time

import datasets
import numpy as np
import pytest

from xaxengine.data.iterators import IteratorLoader, StreamBatches
from xaxengine.data.transforms import BatchMaker, DataError, epoch_order
from xaxengine.task.mixins.sharding import Placement


def dataset(size: int = 50) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"x": np.arange(size, dtype=np.float32), "i": np.arange(size, dtype=np.int32)})


def noisy(example: dict, rng: np.random.Generator) -> dict:
    return {**example, "x": np.float32(example["x"] + rng.normal())}


def test_batch_maker_follows_the_in_memory_order_and_drops_partial_batches():
    maker = BatchMaker(dataset(), 16, 3, True, None, None, skip_errors=False)
    assert maker.batches_per_epoch == 3
    for k in range(7):
        epoch, slot = divmod(k, 3)
        expected = epoch_order(50, 3, epoch, True)[slot * 16 : (slot + 1) * 16]
        np.testing.assert_array_equal(maker(k)["i"], expected)


def test_transform_rng_depends_on_the_example_not_on_which_maker_builds_it():
    first = BatchMaker(dataset(), 16, 3, True, noisy, None, skip_errors=False)
    other = BatchMaker(dataset(), 16, 3, True, noisy, None, skip_errors=False)
    other(5)  # a worker that built other batches first
    np.testing.assert_array_equal(first(4)["x"], other(4)["x"])
    assert not np.array_equal(first(4)["x"], first(4)["i"].astype(np.float32))


def test_a_column_that_changes_shape_is_named_with_its_example():
    def ragged(example: dict, rng: np.random.Generator) -> dict:
        del rng
        return {**example, "x": np.zeros(2 if int(example["i"]) == 7 else 1)}

    maker = BatchMaker(dataset(), 50, 0, False, ragged, None, skip_errors=False)
    with pytest.raises(DataError, match=r"column 'x' of example 7 has shape \(2,\), the batch's first has \(1,\)"):
        maker(0)


def test_stream_batches_roll_epochs_reshuffle_and_restore_from_state():
    stream_source = dataset(40).to_iterable_dataset(num_shards=4)
    stream = StreamBatches(stream_source, 16, 1, 8, None, {})
    seen = [next(stream)["i"] for _ in range(5)]  # 2 batches an epoch: epochs 0, 1 and half of 2
    assert sorted(np.concatenate(seen[:2]).tolist()) != list(range(32))  # 32 of 40 in a shuffled order
    assert not np.array_equal(np.concatenate(seen[:2]), np.concatenate(seen[2:4]))  # epoch 1 is reshuffled
    saved = stream.get_state()
    assert saved == {"epoch": 2, "examples": 16}
    after = next(stream)["i"]
    fresh = StreamBatches(stream_source, 16, 1, 8, None, {})
    fresh.set_state(saved)
    np.testing.assert_array_equal(next(fresh)["i"], after)


def test_iterator_loader_replays_an_iterator_without_state():
    def batches():
        k = 0
        while True:
            yield {"x": np.full((4,), k, np.float32)}
            k += 1

    loader = IteratorLoader(batches(), Placement(), {})
    for _ in range(3):
        loader.next()
    state = loader.get_state()
    assert state == {"kind": "iterator", "batches": 3}
    resumed = IteratorLoader(batches(), Placement(), state)
    batch, idx = resumed.next()
    assert idx is None and float(np.asarray(batch["x"])[0]) == 3.0


def test_iterator_loader_reads_ahead_on_its_prefetch_thread_and_counts_only_what_it_hands_out():
    readers: list[str] = []

    def batches():
        k = 0
        while True:
            readers.append(threading.current_thread().name)
            yield {"x": np.full((4,), k, np.float32)}
            k += 1

    loader = IteratorLoader(batches(), Placement(), {})
    first, _ = loader.next()
    deadline = time.monotonic() + 10
    while len(readers) < 3 and time.monotonic() < deadline:  # the next batches are placed before they are asked for
        time.sleep(0.01)
    assert len(readers) >= 3 and set(readers) == {"xax-prefetch"}
    assert [float(np.asarray(b["x"])[0]) for b in [first, *(loader.next()[0] for _ in range(3))]] == [0, 1, 2, 3]
    assert loader.get_state() == {"kind": "iterator", "batches": 4}
    loader.close()


def test_a_raising_stream_transform_names_the_example():
    def fails_on_five(example: dict, rng: np.random.Generator) -> dict:
        del rng
        if int(example["i"]) == 5:
            raise KeyError("label")
        return example

    stream = StreamBatches(dataset(40).to_iterable_dataset(), 40, 0, 0, fails_on_five, {})
    with pytest.raises(DataError, match=r"transform failed on example 5 of the stream \(epoch 0\): KeyError: 'label'"):
        next(stream)
