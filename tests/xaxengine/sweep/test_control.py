"""Requests to a running sweep: ``sweep parallel`` raises the trials at once, ``sweep prune`` prunes one by hand.

One real driver on the digits task: trials are long (they end only when pruned, or after ``max_seconds``), so the
requests land while they run.
"""

import json
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest

from tests.conftest import REPO, engine_env
from tests.xaxengine.sweep.test_sweep import load_study, only_sweep, run_sweep, sweep_argv, wait_for, write_sweep
from xaxengine.protocol import Kind, read_events

LONG = """task = "mnist.toml"
objective = "valid/loss"
trials = 2
parallel = 1
sampler = "random"
pruner = "none"
overrides = ["train.max_steps=400000", "train.max_seconds=150", "train.log_every_n_steps=50",
             "train.valid_every_n_steps=50", "checkpoint.save_every_n_steps=100000", "depth=1", "hidden=32"]

[params]
"optimizer.lr" = { log_uniform = [1e-3, 1e-2] }
"""


def _status(sweep_dir: Path) -> dict:
    try:
        return json.loads((sweep_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _row(sweep_dir: Path, number: int) -> dict:
    return next((r for r in _status(sweep_dir).get("rows", []) if r["number"] == number), {})


def _training(sweep_dir: Path, number: int) -> bool:
    row = _row(sweep_dir, number)
    return row.get("state") == "running" and row.get("step", 0) > 0


def test_parallel_is_raised_while_the_driver_runs_and_a_trial_is_pruned_by_hand(tmp_path: Path):
    path, runs_dir = write_sweep(tmp_path, LONG), tmp_path / "runs"
    driver = subprocess.Popen(
        sweep_argv(str(path), "--runs-dir", str(runs_dir)), cwd=REPO, env=engine_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        sweep_dir = wait_for(lambda: (runs_dir / "sweeps").is_dir() and only_sweep(runs_dir), what="the sweep dir")
        wait_for(lambda: _training(sweep_dir, 0), what="trial 0 training")
        assert _status(sweep_dir)["parallel"] == 1 and _row(sweep_dir, 1) == {}  # one at a time so far

        bad = run_sweep("prune", sweep_dir.name, "7", "--runs-dir", str(runs_dir))
        assert bad.returncode == 2 and bad.stderr.strip().endswith("no trial 7 in this sweep")
        assert run_sweep("parallel", sweep_dir.name, "0", "--runs-dir", str(runs_dir)).returncode == 2

        raised = run_sweep("parallel", sweep_dir.name, "2", "--runs-dir", str(runs_dir))
        assert raised.returncode == 0, raised.stderr
        wait_for(lambda: _training(sweep_dir, 1), what="trial 1 started beside trial 0")
        assert _status(sweep_dir)["parallel"] == 2 and _row(sweep_dir, 0)["state"] == "running"

        for number in (0, 1):
            asked = run_sweep("prune", sweep_dir.name, str(number), "--runs-dir", str(runs_dir))
            assert asked.returncode == 0, asked.stderr
            assert f"prune trial {number}" in asked.stdout
        out, err = driver.communicate(timeout=180)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 1, out + err  # the budget is spent and no trial completed
    assert "parallel 1 -> 2" in out and "trial 0 pruned by hand at step" in out
    trials = load_study(sweep_dir).get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.PRUNED] * 2
    for trial in trials:
        reason = trial.user_attrs["reason"]
        assert reason.startswith("pruned by hand at step")
        run_dir = Path(trial.user_attrs["run_dir"])
        events = list(read_events(run_dir / "events.jsonl"))
        final = [e for e in events if e["kind"] == Kind.STATUS][-1]
        assert final["state"] == "interrupted" and final["reason"].startswith("pruned by hand at step")
        saved = [e for e in events if e["kind"] == Kind.CHECKPOINT]
        assert saved and saved[-1]["step"] == final["step"]  # it checkpointed before it stopped
    assert not list((sweep_dir / "prune").iterdir())  # every request was acted on
    rows = {r["number"]: r for r in _status(sweep_dir)["rows"]}
    assert [rows[n]["state"] for n in (0, 1)] == ["pruned", "pruned"]
    late = run_sweep("parallel", sweep_dir.name, "3", "--runs-dir", str(runs_dir))
    assert late.returncode == 2 and "no live driver runs this sweep" in late.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["prune"], "sweep prune: give the sweep id or folder and TRIAL"),
        (["parallel", "SWEEP"], "sweep parallel: give the sweep id or folder and N"),
        (["parallel", "SWEEP", "two"], "sweep parallel: N must be a whole number, got 'two'"),
        (["prune", "SWEEP", "t0x"], "sweep prune: TRIAL must be a whole number, got 't0x'"),
        (["parallel", "SWEEP", "999"], "sweep parallel: N must be between 1 and 256, got 999"),
        (["prune", "SWEEP", "1"], "no live driver runs this sweep (continue it with --resume)"),
        (["parallel", "SWEEP", "2"], "no live driver runs this sweep (continue it with --resume)"),
        (["prune", "nowhere", "1"], "sweep 'nowhere' not found"),
    ],
)
def test_requests_to_a_sweep_without_a_driver_or_with_bad_values_are_one_line_errors(tmp_path, args, error):
    sweep_dir = tmp_path / "sweeps" / "s-1"
    shutil.copytree(REPO / "tests/fixtures/recorded_sweep/sweeps/digits-20261201-125258-3929", sweep_dir)
    argv = [str(sweep_dir) if a == "SWEEP" else a for a in args]
    done = run_sweep(*argv, "--runs-dir", str(tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert error in line
    assert not (sweep_dir / "parallel").exists() and not (sweep_dir / "prune").exists()  # nothing was asked
