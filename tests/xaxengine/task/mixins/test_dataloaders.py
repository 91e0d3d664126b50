import datasets
import numpy as np
import pytest

from tasks.mnist import MnistConfig, MnistTask
from xaxengine.config import build_config
from xaxengine.task.mixins.dataloaders import LoaderPosition, dataset_to_columns


def test_columns_keep_shape_and_dtype_and_selection_order():
    images = np.random.default_rng(0).random((7, 3, 4)).astype(np.float32)
    ds = datasets.Dataset.from_dict({"image": images, "label": np.arange(7, dtype=np.int8)}).select([6, 2, 3])
    columns = dataset_to_columns(ds)
    assert columns["image"].shape == (3, 3, 4) and columns["image"].dtype == np.float32
    np.testing.assert_array_equal(columns["image"], images[[6, 2, 3]])
    assert columns["label"].dtype == np.int8 and columns["label"].tolist() == [6, 2, 3]


def test_float64_becomes_float32_and_ragged_columns_are_refused():
    ds = datasets.Dataset.from_dict({"x": np.ones((2, 2)), "tokens": [[1, 2], [3]]})
    with pytest.raises(ValueError, match="'tokens' is ragged"):
        dataset_to_columns(ds)
    assert dataset_to_columns(ds.remove_columns("tokens"))["x"].dtype == np.float32


def test_batches_are_deterministic_and_resume_mid_epoch():
    task = MnistTask(build_config(MnistConfig, {"data": {"batch_size": 4}}))
    full = task.train_batches(10, seed=3, position=LoaderPosition())
    reference = [next(full).tolist() for _ in range(7)]  # 2 batches per epoch (drop last), spans 3+ epochs
    epoch0, epoch1 = reference[0] + reference[1], reference[2] + reference[3]
    assert len(set(epoch0)) == 8 and len(set(epoch1)) == 8  # no repeats within an epoch
    assert epoch0 != epoch1  # reshuffled each epoch
    resumed = task.train_batches(10, seed=3, position=LoaderPosition(epoch=1, offset=4))
    assert [next(resumed).tolist() for _ in range(4)] == reference[3:7]
    other_seed = task.train_batches(10, seed=4, position=LoaderPosition())
    assert [next(other_seed).tolist() for _ in range(2)] != reference[:2]


def test_validation_batches_cover_every_sample():
    task = MnistTask(build_config(MnistConfig, {"data": {"batch_size": 4}}))
    batches = task.valid_index_batches(10)
    assert all(len(b) == 4 for b in batches)
    assert set(np.concatenate(batches).tolist()) == set(range(10))
