"""Real sweeps on the digits task: the driver, its engines, Optuna's storage and signals, as a user runs them.

Trials are kept tiny (tens of steps): on a shared 2-core machine an engine's start-up (~10 s) dominates.
"""

import json
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import optuna
import pytest

from tests.conftest import BIN, REPO, engine_env
from xaxengine.protocol import Kind, read_events
from xaxengine.runs import live_pid
from xaxengine.sweep.study import open_storage

SHORT = '["train.max_steps=60", "train.log_every_n_steps=20", "train.valid_every_n_steps=20", "depth=1"]'

ISSUE_FORM = f"""task = "mnist.toml"
objective = "valid/accuracy"
direction = "maximize"
trials = 6
parallel = 2
sampler = "tpe"
seed = 0
overrides = {SHORT}

[params]
"optimizer.lr" = {{ log_uniform = [1e-4, 1e-1] }}
hidden = {{ choice = [64, 128, 256] }}
"""


def write_sweep(folder: Path, text: str, task: str = "tasks/mnist.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / Path(task).name).write_text((REPO / task).read_text())
    path = folder / "digits.sweep.toml"
    path.write_text(text)
    return path


def sweep_argv(*args: str) -> list[str]:
    return [str(BIN / "xaxengine"), "sweep", *args]


def run_sweep(*args: str, timeout: float = 280) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sweep_argv(*args), cwd=REPO, env=engine_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def only_sweep(runs_dir: Path) -> Path:
    (sweep_dir,) = sorted((runs_dir / "sweeps").iterdir())
    return sweep_dir


def load_study(sweep_dir: Path) -> optuna.Study:
    meta = json.loads((sweep_dir / "sweep.json").read_text())
    return optuna.load_study(study_name=meta["sweep_id"], storage=open_storage(meta["storage"]))


def trial_run_dirs(runs_dir: Path, sweep_id: str) -> dict[int, list[Path]]:
    """Run dirs per trial number, found from the tags the engine wrote in each run's config.toml."""
    found: dict[int, list[Path]] = {}
    for config in runs_dir.glob("*/*/config.toml"):
        tags = tomllib.loads(config.read_text()).get("artifacts", {}).get("tags", {})
        if tags.get("sweep") == sweep_id:
            found.setdefault(int(tags["trial"]), []).append(config.parent)
    return found


def run_starts(run_dir: Path) -> list[dict]:
    return [e for e in read_events(run_dir / "events.jsonl") if e["kind"] == Kind.RUN_START]


def wait_for(condition, timeout: float = 180.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def issue_sweep(tmp_path_factory):
    """The issue's sweep file as written (6 trials, parallel 2, TPE), with short trials."""
    root = tmp_path_factory.mktemp("issue")
    path = write_sweep(root, ISSUE_FORM)
    done = run_sweep(str(path), "--runs-dir", str(root / "runs"))
    return root / "runs", done


def test_six_trials_two_at_a_time_and_the_best_matches_optunas_record(issue_sweep):
    runs_dir, done = issue_sweep
    assert done.returncode == 0, done.stderr
    sweep_dir = only_sweep(runs_dir)
    study = load_study(sweep_dir)
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(6))
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)
    best = study.best_trial
    status = json.loads((sweep_dir / "status.json").read_text())
    assert status["best"]["number"] == best.number and status["best"]["value"] == best.value
    assert f"best trial {best.number}: valid/accuracy={best.value:.5g}" in done.stdout
    # the best run's own events hold the value Optuna recorded (last valid accuracy)
    best_dir = Path(best.user_attrs["run_dir"])
    valid = [e for e in read_events(best_dir / "events.jsonl") if e["kind"] == Kind.SCALARS and e["phase"] == "valid"]
    assert valid[-1]["values"]["accuracy"] == pytest.approx(best.value)
    # best.toml is the base task with the best params and the sweep's overrides
    best_toml = tomllib.loads((sweep_dir / "best.toml").read_text())
    assert best_toml["hidden"] == best.params["hidden"]
    assert best_toml["optimizer"]["lr"] == pytest.approx(best.params["optimizer.lr"])
    assert best_toml["train"]["max_steps"] == 60
    # never more than `parallel` engines at once
    spans = [(r["started_t"], r["ended_t"]) for r in status["rows"]]
    assert max(sum(s <= t < e for s, e in spans) for t, _ in spans) <= 2


def test_each_trial_is_a_tagged_run_in_its_own_dir(issue_sweep):
    runs_dir, _ = issue_sweep
    sweep_id = only_sweep(runs_dir).name
    dirs = trial_run_dirs(runs_dir, sweep_id)
    assert sorted(dirs) == list(range(6)) and all(len(d) == 1 for d in dirs.values())
    for number, (run_dir,) in dirs.items():
        assert run_dir.name == f"{sweep_id}-t{number:03d}"
        (start,) = run_starts(run_dir)
        assert start["config"]["artifacts"]["tags"] == {"sweep": sweep_id, "trial": str(number)}
    listed = subprocess.run(
        [str(BIN / "xaxengine"), "ls", "--runs-dir", str(runs_dir), "--json"],
        capture_output=True, text=True, check=True, env=engine_env(),
    )  # fmt: skip
    assert {r["run_id"] for r in json.loads(listed.stdout)} == {f"{sweep_id}-t{n:03d}" for n in range(6)}


def test_sweep_ls_shows_progress_and_best(issue_sweep):
    runs_dir, _ = issue_sweep
    sweep_dir = only_sweep(runs_dir)
    done = run_sweep("ls", "--runs-dir", str(runs_dir), "--json")
    (row,) = json.loads(done.stdout)
    best = load_study(sweep_dir).best_trial
    assert (row["sweep_id"], row["state"], row["done"], row["trials"]) == (sweep_dir.name, "finished", 6, 6)
    assert (row["best_trial"], row["best_value"]) == (best.number, best.value)


def test_best_toml_reproduces_the_best_trial(issue_sweep):
    runs_dir, _ = issue_sweep
    sweep_dir = only_sweep(runs_dir)
    best = load_study(sweep_dir).best_trial
    done = subprocess.run(
        [str(BIN / "xaxengine"), "run", str(sweep_dir / "best.toml"), "--runs-dir", str(runs_dir / "again")],
        cwd=REPO, env=engine_env(), capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (events,) = (runs_dir / "again").glob("*/*/events.jsonl")
    valid = [e for e in read_events(events) if e["kind"] == Kind.SCALARS and e["phase"] == "valid"]
    assert valid[-1]["values"]["accuracy"] == pytest.approx(best.value)


def test_sigkill_of_the_driver_then_resume_records_every_trial_once(tmp_path):
    text = """task = "mnist.toml"
objective = "valid/accuracy"
direction = "maximize"
trials = 3
parallel = 2
sampler = "random"
pruner = "none"
overrides = ["train.max_steps=600", "train.valid_every_n_steps=100", "checkpoint.save_every_n_steps=100", "depth=1"]

[params]
"optimizer.lr" = { log_uniform = [1e-3, 1e-2] }
hidden = { choice = [32, 64] }
"""
    path, runs_dir = write_sweep(tmp_path, text), tmp_path / "runs"
    driver = subprocess.Popen(
        sweep_argv(str(path), "--runs-dir", str(runs_dir)), cwd=REPO, env=engine_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def checkpointed_run() -> Path | None:
        for events in runs_dir.glob("mnist/*/events.jsonl"):
            if any(e["kind"] == Kind.CHECKPOINT for e in read_events(events)) and live_pid(events.parent):
                return events.parent
        return None

    try:
        victim = wait_for(checkpointed_run, what="a trial with a checkpoint")
    finally:
        driver.kill()  # SIGKILL: the driver records nothing more
        driver.wait()
    engine = live_pid(victim)
    if engine is not None:
        os.kill(engine, signal.SIGKILL)  # and one engine dies too, after its first checkpoint
    sweep_dir = only_sweep(runs_dir)

    done = run_sweep("--resume", sweep_dir.name, "--runs-dir", str(runs_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    trials = load_study(sweep_dir).get_trials()
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials), [(t.number, t.state) for t in trials]
    dirs = trial_run_dirs(runs_dir, sweep_dir.name)
    assert sorted(dirs) == [0, 1, 2] and all(len(d) == 1 for d in dirs.values())  # no duplicate run dirs
    assert len(list(runs_dir.glob("mnist/*"))) == 3
    starts = run_starts(victim)
    assert len(starts) == 2 and (starts[1]["resumed_from_step"] or 0) >= 100  # resumed from its checkpoint
    others = [d for (d,) in dirs.values() if d != victim]
    assert all(len(run_starts(d)) == 1 for d in others)  # the orphan that lived on was adopted, not run again


def test_sweep_stop_checkpoints_the_trials_and_resume_continues_them(tmp_path):
    text = """task = "mnist.toml"
objective = "valid/loss"
trials = 2
parallel = 2
sampler = "random"
pruner = "none"
overrides = ["train.max_steps=3000", "train.valid_every_n_steps=500", "checkpoint.save_every_n_steps=100", "depth=1"]

[params]
"optimizer.lr" = { log_uniform = [1e-3, 1e-2] }
"""
    path, runs_dir = write_sweep(tmp_path, text), tmp_path / "runs"
    driver = subprocess.Popen(
        sweep_argv(str(path), "--runs-dir", str(runs_dir)), cwd=REPO, env=engine_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def both_training() -> bool:
        events = list(runs_dir.glob("mnist/*/events.jsonl"))
        return len(events) == 2 and all(any(e["kind"] == Kind.CHECKPOINT for e in read_events(p)) for p in events)

    wait_for(both_training, what="two trials with a checkpoint")
    sweep_id = only_sweep(runs_dir).name
    stop = run_sweep("stop", sweep_id, "--runs-dir", str(runs_dir))
    assert stop.returncode == 0 and f"sent SIGTERM to sweep driver pid {driver.pid}" in stop.stdout
    out, _ = driver.communicate(timeout=120)
    assert driver.returncode == 143
    assert f"continue with: xaxengine sweep --resume {only_sweep(runs_dir)}" in out
    study = load_study(only_sweep(runs_dir))
    assert [t.state.name for t in study.get_trials()] == ["RUNNING", "RUNNING"]  # kept for --resume
    dirs = trial_run_dirs(runs_dir, sweep_id)
    stopped_at = {}
    for number, (run_dir,) in dirs.items():
        final = [e for e in read_events(run_dir / "events.jsonl") if e["kind"] == Kind.STATUS][-1]
        assert final["state"] == "interrupted"
        stopped_at[number] = final["step"]
    listed = json.loads(run_sweep("ls", "--runs-dir", str(runs_dir), "--json").stdout)
    assert [(r["state"], r["done"]) for r in listed] == [("stopped", 0)]

    done = run_sweep("--resume", sweep_id, "--runs-dir", str(runs_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [t.state.name for t in load_study(only_sweep(runs_dir)).get_trials()] == ["COMPLETE", "COMPLETE"]
    assert trial_run_dirs(runs_dir, sweep_id) == dirs  # the same two run dirs, continued
    for number, (run_dir,) in dirs.items():
        starts = run_starts(run_dir)
        assert len(starts) == 2 and starts[1]["resumed_from_step"] == stopped_at[number]


@pytest.fixture(scope="module")
def pruned_and_failed(tmp_path_factory):
    """Two good trials, then one that NaNs, then a hopeless lr: the median pruner and the failure path."""
    root = tmp_path_factory.mktemp("prune")
    text = """task = "faulty.toml"
objective = "valid/accuracy"
direction = "maximize"
trials = 4
parallel = 2
pruner = "median"
prune_startup_trials = 2
overrides = ["train.log_every_n_steps=20", "train.valid_every_n_steps=20", "hidden=32"]
enqueue = [
  { "optimizer.lr" = 3e-3, nan_from_step = -1, "train.max_steps" = 300 },
  { "optimizer.lr" = 3e-3, nan_from_step = -1, "train.max_steps" = 300 },
  { "optimizer.lr" = 3e-3, nan_from_step = 10, "train.max_steps" = 300 },
  { "optimizer.lr" = 1e-7, nan_from_step = -1, "train.max_steps" = 20000 },
]

[params]
"optimizer.lr" = { choice = [3e-3, 1e-7] }
nan_from_step = { choice = [-1, 10] }
"train.max_steps" = { choice = [300, 20000] }  # the hopeless trial is long: a prune must cut it short
"""
    path = write_sweep(root, text, task="tests/fixtures/tasks/faulty.toml")
    done = run_sweep(str(path), "--runs-dir", str(root / "runs"))
    return root / "runs", done


def test_the_median_pruner_stops_a_hopeless_trial_early(pruned_and_failed):
    runs_dir, done = pruned_and_failed
    assert done.returncode == 0, done.stdout + done.stderr
    trials = load_study(only_sweep(runs_dir)).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL", "PRUNED"]
    hopeless = trials[3]
    assert hopeless.params["optimizer.lr"] == 1e-7
    run_dir = Path(hopeless.user_attrs["run_dir"])
    events = list(read_events(run_dir / "events.jsonl"))
    final = [e for e in events if e["kind"] == Kind.STATUS][-1]
    assert final["state"] == "interrupted" and final["step"] < 20000  # stopped early, gracefully
    assert final["reason"].startswith("pruned at step ")  # the run's own record says why, not "signal 15"
    assert any(e["kind"] == Kind.CHECKPOINT and e["step"] == final["step"] for e in events)  # checkpoint first
    assert hopeless.user_attrs["reason"] == f"pruned at step {final['step']}"


def test_a_trial_that_nans_is_recorded_failed_and_the_sweep_goes_on(pruned_and_failed):
    runs_dir, done = pruned_and_failed
    nan_trial = load_study(only_sweep(runs_dir)).get_trials()[2]
    assert nan_trial.state == optuna.trial.TrialState.FAIL
    assert "NonFiniteLossError" in nan_trial.user_attrs["reason"]
    assert f"trial 2 fail: {nan_trial.user_attrs['reason']}" in done.stdout


def test_two_drivers_sharing_a_journal_run_each_trial_once(tmp_path):
    text = f"""task = "mnist.toml"
objective = "valid/loss"
trials = 4
parallel = 1
sampler = "random"
pruner = "none"
overrides = {SHORT}

[params]
"optimizer.lr" = {{ log_uniform = [1e-3, 1e-2] }}
"""
    path, runs_dir = write_sweep(tmp_path, text), tmp_path / "runs"
    storage = f"journal:{tmp_path / 'shared' / 'study.journal'}"
    first = subprocess.Popen(
        sweep_argv(str(path), "--runs-dir", str(runs_dir), "--storage", storage),
        cwd=REPO, env=engine_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    sweep_dir = wait_for(lambda: next((runs_dir / "sweeps").glob("*/sweep.json"), None), what="the sweep").parent
    second = run_sweep("--join", sweep_dir.name, "--storage", storage, "--runs-dir", str(runs_dir))
    _, err = first.communicate(timeout=280)
    assert first.returncode == 0 and second.returncode == 0, err + second.stderr
    trials = load_study(sweep_dir).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both drivers ran trials
    dirs = trial_run_dirs(runs_dir, sweep_dir.name)
    assert sorted(dirs) == [0, 1, 2, 3] and all(len(d) == 1 for d in dirs.values())
    assert all(len(run_starts(d)) == 1 for (d,) in dirs.values())  # no trial ran twice
    status = json.loads((sweep_dir / "status.json").read_text())  # whichever driver wrote it last counts all
    assert status["done"] == 4 and [r["number"] for r in status["rows"]] == [0, 1, 2, 3]
