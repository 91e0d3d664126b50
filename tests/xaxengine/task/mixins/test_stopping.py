"""Early stopping, the time budget, validation by seconds and the best checkpoint, through the real CLI."""

from pathlib import Path

import orbax.checkpoint as ocp

from tests.conftest import run_engine
from xaxengine.protocol import read_events

FAST = ["hidden=32", "logger.progress=off", "logger.tensorboard=false", "stats.enabled=false"]


def run(runs: Path, run_id: str, *args: str) -> tuple[Path, list[dict]]:
    proc = run_engine("run", "tasks/mnist.toml", *FAST, *args, "--runs-dir", str(runs), "--run-id", run_id)
    assert proc.returncode == 0, proc.stderr
    run_dir = runs / "mnist" / run_id
    return run_dir, list(read_events(run_dir / "events.jsonl"))


def final_status(evs: list[dict]) -> dict:
    return [e for e in evs if e["kind"] == "status"][-1]


def valid_steps(evs: list[dict]) -> list[int]:
    return [e["step"] for e in evs if e["kind"] == "scalars" and e["phase"] == "valid"]


def test_early_stop_finishes_after_patience_validations_without_improvement(runs_dir):
    _, evs = run(
        runs_dir, "es", "train.max_steps=1000", "train.log_every_n_steps=10", "train.valid_every_n_steps=10",
        "train.early_stop.metric=valid/accuracy", "train.early_stop.mode=max", "train.early_stop.patience=2",
        "train.early_stop.min_delta=1.0", "checkpoint.save_every_n_steps=0",
    )  # fmt: skip
    final = final_status(evs)  # accuracy can never improve by more than 1.0: best at 10, then 20 and 30 are not
    assert (final["state"], final["reason"], final["step"]) == ("finished", "early_stop", 30)
    assert valid_steps(evs) == [10, 20, 30]
    assert [e["step"] for e in evs if e["kind"] == "checkpoint"] == [30]


def test_max_seconds_finishes_with_a_checkpoint(runs_dir):
    args = ["train.max_steps=10000000", "train.max_seconds=2", "train.valid_every_n_steps=0"]
    _, evs = run(runs_dir, "t", *args, "checkpoint.save_every_n_steps=0")
    final = final_status(evs)
    assert (final["state"], final["reason"]) == ("finished", "max_seconds")
    assert 0 < final["step"] < 10000000
    assert [e["step"] for e in evs if e["kind"] == "checkpoint"] == [final["step"]]
    assert max(e["step"] for e in evs if e["kind"] == "scalars" and e["phase"] == "train") == final["step"]


def test_valid_every_n_seconds_validates_between_step_cadences(runs_dir):
    _, evs = run(
        runs_dir, "v", "train.max_steps=10000000", "train.max_seconds=4", "train.valid_every_n_steps=0",
        "train.valid_every_n_seconds=1", "checkpoint.save_every_n_steps=0",
    )  # fmt: skip
    assert valid_steps(evs) and valid_steps(evs)[0] < final_status(evs)["step"]


def test_keep_best_holds_the_best_step_after_later_worse_checkpoints(runs_dir):
    # valid/loss falls as it trains, so with mode "max" the first validation stays the best one
    run_dir, evs = run(
        runs_dir, "b", "train.max_steps=50", "train.log_every_n_steps=10", "train.valid_every_n_steps=10",
        "checkpoint.save_every_n_steps=10", "checkpoint.max_to_keep=2", "checkpoint.keep_best=valid/loss",
        "checkpoint.keep_best_mode=max",
    )  # fmt: skip
    losses = {e["step"]: e["values"]["loss"] for e in evs if e["kind"] == "scalars" and e["phase"] == "valid"}
    best_step = max(losses, key=lambda s: losses[s])
    assert best_step == 10 and losses[50] < losses[10]
    assert sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == [40, 50]
    options = ocp.CheckpointManagerOptions(read_only=True)
    with ocp.CheckpointManager((run_dir / "best_checkpoint").resolve(), options=options) as manager:
        assert manager.all_steps() == [10]
        meta = manager.restore(10, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    assert meta["best"] == {"metric": "valid/loss", "mode": "max", "value": losses[10]}
