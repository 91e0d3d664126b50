"""xax's mnist example, ported (tasks/xax_mnist.py): trains a few steps as ``python -m tasks.xax_mnist``."""

import subprocess
import sys

from tests.conftest import REPO, engine_env
from xaxengine.protocol import read_events


def test_the_ported_xax_mnist_example_trains(runs_dir):
    args = [
        "hidden_dim=64", "learning_rate=3e-3", "data.batch_size=64", "train.max_steps=60", "train.log_every_n_steps=10",
        "train.valid_every_n_steps=30", "checkpoint.save_every_n_steps=0", "logger.progress=off",
        "logger.tensorboard=false", "stats.enabled=false", "--runs-dir", str(runs_dir), "--run-id", "x",
    ]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "tasks.xax_mnist", *args], cwd=REPO, env=engine_env(),
                          capture_output=True, text=True, timeout=240, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "mnist_classification" / "x"
    evs = list(read_events(run_dir / "events.jsonl"))
    train = {e["step"]: e["values"] for e in evs if e["kind"] == "scalars" and e["phase"] == "train"}
    valid = {e["step"]: e["values"] for e in evs if e["kind"] == "scalars" and e["phase"] == "valid"}
    assert sorted(train) == [10, 20, 30, 40, 50, 60] and train[60]["loss"] < train[10]["loss"]
    assert sorted(valid) == [30, 60] and valid[60]["acc"] > 0.5  # ten classes: chance is 0.1
    predictions = [e for e in evs if e["kind"] == "image" and e["name"] == "predictions"]
    assert [e["step"] for e in predictions] == [30, 60]
    assert len(predictions[-1]["labels"]) == 16 and predictions[-1]["labels"][0].startswith("pred: ")
    assert "# optimizer = custom: MnistClassification.get_optimizer" in (run_dir / "config.toml").read_text()
    start = next(e for e in evs if e["kind"] == "run_start")
    assert start["task"] == "tasks.xax_mnist:MnistClassification"
