"""``log_valid_step``: called after each validation with the first batch, the model output and metrics, on host."""

import json

from tests.conftest import run_engine
from xaxengine.protocol import read_events


def test_log_valid_step_gets_the_first_batch_output_and_metrics_each_validation(runs_dir):
    proc = run_engine("run", "tests/fixtures/tasks/valid_step.toml", "--runs-dir", str(runs_dir), "--run-id", "v")
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "valid_step" / "v"
    evs = list(read_events(run_dir / "events.jsonl"))
    valid = {e["step"]: e["values"] for e in evs if e["kind"] == "scalars" and e["phase"] == "valid"}
    assert sorted(valid) == [10, 20]
    for step in (10, 20):
        record = json.loads((run_dir / "artifacts" / f"valid_step_{step}.json").read_text())
        assert record["output_type"] == "ndarray" and record["output_shape"] == [64, 10]
        assert record["batch_shape"] == [64, 8, 8]
        assert set(record["metrics"]) == {"loss", "accuracy"}
        assert record["metrics"]["accuracy"] == record["accuracy_from_output"]  # same batch, same output
    predictions = [e for e in evs if e["kind"] == "image" and e["name"] == "valid/predictions"]
    assert [e["step"] for e in predictions] == [10, 20] and all(len(e["labels"]) == 4 for e in predictions)
    compiles = [e["name"] for e in evs if e["kind"] == "compile"]
    assert compiles.count("valid_outputs") == 1  # compiled once, reused


def test_without_an_override_no_extra_pass_is_compiled(runs_dir):
    proc = run_engine("run", "tasks/mnist.toml", "hidden=32", "train.max_steps=10", "train.valid_every_n_steps=10",
                      "logger.progress=off", "logger.tensorboard=false", "stats.enabled=false",
                      "checkpoint.save_every_n_steps=0", "--runs-dir", str(runs_dir), "--run-id", "n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    evs = list(read_events(runs_dir / "mnist" / "n" / "events.jsonl"))
    assert [e["name"] for e in evs if e["kind"] == "compile"] == ["train_step", "eval_step"]


def test_log_valid_step_under_two_processes_sees_the_whole_first_batch(runs_dir):
    args = ("launch.layout=multi_process", "launch.num_processes=2", "launch.num_devices=1")
    proc = run_engine("run", "tests/fixtures/tasks/valid_step.toml", *args, "--runs-dir", str(runs_dir),
                      "--run-id", "mp", timeout=400)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "valid_step" / "mp"
    evs = list(read_events(run_dir / "events.jsonl"))
    valid = {e["step"]: e["values"] for e in evs if e["kind"] == "scalars" and e["phase"] == "valid"}
    assert sorted(valid) == [10, 20]
    for step in (10, 20):
        record = json.loads((run_dir / "artifacts" / f"valid_step_{step}.json").read_text())
        assert record["output_shape"] == [64, 10], "the output was one process's rows, not the batch's"
        assert record["batch_shape"] == [64, 8, 8]
        assert record["metrics"]["accuracy"] == record["accuracy_from_output"]
        assert abs(record["metrics"]["loss"] - valid[step]["loss"]) < 1.0  # the first batch's, near the mean
