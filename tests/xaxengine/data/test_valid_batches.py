"""The validation set through every source kind: streams, iterators, padded and transformed rows, in real runs."""

import numpy as np
import pytest

from tests.conftest import run_engine
from tests.xaxengine.data.data_tasks import ragged_valid_length
from tests.xaxengine.data.kill_resume import events, final_status, run_dir_of
from xaxengine.data.transforms import DataError
from xaxengine.data.valid_batches import complete_batches

COMMON = [
    "train.max_steps=40",
    "train.log_every_n_steps=20",
    "train.valid_every_n_steps=20",
    "checkpoint.save_every_n_steps=0",
    "logger.tensorboard=false",
    "model=mlp",
]


def _valid(runs_dir, run_id: str) -> list[dict]:
    run_dir = run_dir_of(runs_dir, run_id)
    return [e for e in events(run_dir) if e["kind"] == "scalars" and e["phase"] == "valid"]


def _run(runs_dir, run_id: str, *args: str, task: str = "tasks/mnist.toml") -> list[dict]:
    proc = run_engine("run", task, *COMMON, *args, "--runs-dir", str(runs_dir), "--run-id", run_id)
    assert proc.returncode == 0, proc.stderr
    return _valid(runs_dir, run_id)


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The digits task's validation events on the in-memory path."""
    return _run(tmp_path_factory.mktemp("runs"), "memory")


def test_host_batches_give_the_in_memory_validation_values(runs_dir, in_memory):
    host = _run(runs_dir, "grain", "data.loader=grain")  # the same set, rows read and stacked on the host
    assert [e["step"] for e in host] == [e["step"] for e in in_memory] == [20, 40]
    for a, b in zip(host, in_memory, strict=True):
        assert a["values"] == b["values"]


def test_a_streaming_validation_set_gives_the_in_memory_values(runs_dir, in_memory):
    stream = _run(runs_dir, "stream", "task=tests.xaxengine.data.data_tasks:StreamingValidTask")
    assert [e["values"] for e in stream] == [e["values"] for e in in_memory]


def test_a_validation_iterator_is_what_gets_evaluated(runs_dir, in_memory):
    shifted = _run(runs_dir, "iter", "task=tests.xaxengine.data.data_tasks:IteratorValidTask")
    assert [e["step"] for e in shifted] == [20, 40]
    assert in_memory[-1]["values"]["accuracy"] > 0.8  # the learned digits...
    assert shifted[-1]["values"]["accuracy"] < 0.2  # ...with every label off by one
    assert shifted[-1]["values"]["loss"] > in_memory[-1]["values"]["loss"]


def test_variable_length_validation_examples_are_padded_and_masked(runs_dir):
    args = ["train.max_steps=20", "train.valid_every_n_steps=10", "data.valid_batch_size=50"]
    valid = _run(runs_dir, "pad", *args, task="tests/xaxengine/data/padding.toml")
    assert [e["step"] for e in valid] == [10, 20]
    # 180 validation digits in 4 batches of 50, the last completed with the first 20: each batch's mean share of
    # real positions, averaged over the batches
    order = np.arange(200) % 180
    lengths = np.array([ragged_valid_length(int(i)) for i in order]) / 64
    expected = lengths.reshape(4, 50).mean(axis=1).mean()
    for event in valid:
        assert event["values"]["mask_frac"] == pytest.approx(expected, rel=1e-6)
        assert np.isfinite(event["values"]["loss"])


def test_a_raising_validation_transform_is_one_line_naming_the_example(runs_dir):
    proc = run_engine(
        "run", "tests/xaxengine/data/padding.toml", "train.valid_every_n_steps=10", "fail_index=123",
        "--runs-dir", str(runs_dir), "--run-id", "bad",
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    reason = final_status(run_dir_of(runs_dir, "bad"))["reason"]
    assert reason == "DataError: validation: valid_transform failed on example 123: ValueError: unreadable image"


def test_the_short_last_batch_is_completed_with_the_first_rows():
    batches = [{"x": np.arange(4) + 4 * i, "y": np.ones((4, 2)) * i} for i in range(2)] + [
        {"x": np.array([8, 9]), "y": np.ones((2, 2)) * 2}
    ]
    out = list(complete_batches(iter(batches)))
    np.testing.assert_array_equal(out[2]["x"], [8, 9, 0, 1])
    np.testing.assert_array_equal(out[2]["y"][:, 0], [2, 2, 0, 0])


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"x": np.zeros((5, 3))}, "validation batch 1 has 5 rows, more than the first batch's 4"),
        (
            {"x": np.zeros((4, 2))},
            r"column 'x' of validation batch 1 has shape \(4, 2\), the first batch's has \(4, 3\)",
        ),
        ({"z": np.zeros((4, 3))}, r"validation batch 1 has columns \['z'\], the first had \['x'\]"),
    ],
)
def test_a_batch_unlike_the_first_is_one_line(second, message):
    with pytest.raises(DataError, match=message):
        list(complete_batches(iter([{"x": np.zeros((4, 3))}, second])))


def test_an_empty_validation_stream_is_one_line():
    from xaxengine.data.valid_batches import HostValid
    from xaxengine.task.mixins.sharding import Placement

    empty = HostValid(lambda: iter([]), Placement())
    with pytest.raises(DataError, match=r"^validation: the validation data has no examples$"):
        empty.first()
