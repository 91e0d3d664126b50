"""``xaxengine slurm`` against a real one-node Slurm cluster (munged + slurmctld + slurmd on this machine).

Every job is the digits MLP (``hidden=32``) with one loss per step, as two engine processes started by ``srun``
(``--nodes 1 --tasks-per-node 2``, one CPU device each) that join ``jax.distributed`` from ``SLURM_*``. Covered: a
2-task job equals the single-process run step for step; ``xaxengine checkpoint`` / ``stop`` reach the job through
``scancel`` and it ends ``interrupted`` with a checkpoint, and so does Slurm's ``--signal=TERM@60`` before the
time limit; a ``--requeue`` job requeued with ``scontrol requeue``
resumes from its checkpoint and ends with the uninterrupted run's losses; no ``sbatch`` and a bad partition are one
line each with exit code 2.
"""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import BIN, REPO, engine_env, run_engine
from xaxengine.protocol import LineReader, read_events

TOL = 1e-5
SMALL = [
    "hidden=32",
    "train.log_every_n_steps=1",
    "train.valid_every_n_steps=100000",
    "data.batch_size=32",
    "logger.tensorboard=false",
    "logger.progress=off",
    "stats.enabled=false",
]
TWO_TASKS = ["--nodes", "1", "--tasks-per-node", "2"]


def _engine(*args: str, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "xaxengine"), *args],
        cwd=REPO,
        env=engine_env(),
        stdout=open(log, "w"),
        stderr=open(log.with_suffix(".err"), "w"),
        text=True,
    )


STARTED: list[subprocess.Popen[str]] = []


def _submit(runs: Path, run_id: str, *extra: str) -> subprocess.Popen[str]:
    """``xaxengine slurm ... --submit --wait`` in the background; stdout to RUNS/RUN_ID.out, stderr to .err."""
    args = ["slurm", "tasks/mnist.toml", *SMALL, *extra, *TWO_TASKS, "--runs-dir", str(runs), "--run-id", run_id]
    STARTED.append(_engine(*args, "--submit", "--wait", log=runs / f"{run_id}.out"))
    return STARTED[-1]


def _events(run_dir: Path) -> list[dict]:
    return list(read_events(run_dir / "events.jsonl"))


def _losses(events: list[dict]) -> dict[int, float]:
    """Train loss by step; a step logged again after a resume keeps its last value."""
    return {e["step"]: e["values"]["loss"] for e in events if e["kind"] == "scalars" and e["phase"] == "train"}


def _max_diff(a: dict[int, float], b: dict[int, float], steps: range) -> float:
    assert set(steps) <= set(a) and set(steps) <= set(b), (sorted(a), sorted(b))
    return max(abs(a[s] - b[s]) for s in steps)


def _wait_for(predicate, what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _has_event(run_dir: Path, kind: str, **fields: object) -> bool:
    path = run_dir / "events.jsonl"
    return path.exists() and any(
        e["kind"] == kind and all(e.get(k) == v for k, v in fields.items()) for e in read_events(path)
    )


def _job_field(slurm: Any, job_id: str, name: str) -> str:
    line = slurm.run("scontrol", "show", "job", "--oneliner", job_id).stdout
    return dict(t.split("=", 1) for t in line.split() if "=" in t)[name]


@pytest.fixture(scope="module")
def runs(slurm: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    del slurm
    yield tmp_path_factory.mktemp("slurm-runs")
    for proc in STARTED:  # --wait followers a failed test left behind (the cluster fixture cancels their jobs)
        proc.kill()


@pytest.fixture(scope="module")
def reference(runs: Path) -> Iterator[dict[int, dict[int, float]]]:
    """Single-process runs of 40 and 200 steps (the uninterrupted losses), started at once, by max_steps."""
    procs = {
        steps: _engine(
            "run", "tasks/mnist.toml", *SMALL, f"train.max_steps={steps}", "launch.layout=single_device",
            "--runs-dir", str(runs), "--run-id", f"single{steps}", log=runs / f"single{steps}.out",
        )
        for steps in (40, 200)
    }  # fmt: skip
    done: dict[int, dict[int, float]] = {}

    class Lazy(dict):
        def __missing__(self, steps: int) -> dict[int, float]:
            assert procs[steps].wait(timeout=300) == 0, (runs / f"single{steps}.err").read_text()[-2000:]
            done[steps] = _losses(_events(runs / "mnist" / f"single{steps}"))
            return done[steps]

    yield Lazy()
    for proc in procs.values():
        proc.kill()


def test_two_tasks_equal_one_process_and_the_job_is_recorded(slurm: Any, runs: Path, reference: dict):
    proc = _submit(runs, "two", "train.max_steps=40")
    assert proc.wait(timeout=300) == 0, (runs / "two.err").read_text()[-3000:]
    run_dir = runs / "mnist" / "two"
    job_id = (run_dir / "slurm_job").read_text().strip()
    notes = (runs / "two.err").read_text()
    assert f"Submitted batch job {job_id}\nrun dir: {run_dir.resolve()}\n" in notes
    assert f"job {job_id} RUNNING on " in notes and f"job {job_id} COMPLETED" in notes
    reader = LineReader()
    followed = reader.feed((runs / "two.out").read_bytes())  # --wait's stdout: the run's events and nothing else
    assert reader.bad_lines == 0 and followed == _events(run_dir)
    start = next(e for e in followed if e["kind"] == "run_start")
    assert start["layout"] == "multi_process" and len(start["devices"]) == 2
    assert start["slurm"] == {"job_id": job_id, "nodelist": slurm.node, "ntasks": 2, "restart_count": 0}
    assert [e["state"] for e in followed if e["kind"] == "status"][-1] == "finished"
    assert _max_diff(_losses(followed), reference[40], range(1, 41)) < TOL
    assert _job_field(slurm, job_id, "JobState") == "COMPLETED"
    late = run_engine("stop", str(run_dir))
    assert late.returncode == 2 and late.stderr.count("\n") == 1
    assert f"no engine to signal: job {job_id} COMPLETED" in late.stderr


def test_checkpoint_and_stop_reach_the_job_through_scancel(slurm: Any, runs: Path):
    proc = _submit(runs, "stopped", "train.max_steps=100000", "checkpoint.save_every_n_steps=100000")
    run_dir = runs / "mnist" / "stopped"
    _wait_for(lambda: _has_event(run_dir, "scalars", phase="train"), "the first train step")
    job_id = (run_dir / "slurm_job").read_text().strip()
    saved = run_engine("checkpoint", str(run_dir))
    assert saved.returncode == 0 and saved.stdout == f"sent USR1 to Slurm job {job_id} ({slurm.node})\n"
    # multi-process runs report an async save at the next save or the end; the committed folder shows it first
    _wait_for(lambda: any(p.name.isdigit() for p in (run_dir / "checkpoints").iterdir()), "the USR1 save", 90)
    stop = run_engine("stop", str(run_dir))
    assert stop.returncode == 0 and stop.stdout.startswith(f"sent TERM to Slurm job {job_id}")
    assert proc.wait(timeout=120) == 143, (runs / "stopped.err").read_text()[-3000:]
    events = _events(run_dir)
    states = [(e["state"], e["step"]) for e in events if e["kind"] == "status"]
    assert states[-1][0] == "interrupted" and states[-2][0] == "stopping"
    checkpoints = [e["step"] for e in events if e["kind"] == "checkpoint"]
    assert len(checkpoints) == 2 and checkpoints[-1] == states[-1][1]
    assert (run_dir / "checkpoints" / str(states[-1][1])).is_dir()
    assert _job_field(slurm, job_id, "ExitCode") == "143:0"


def test_time_limit_signal_checkpoints_before_the_kill(slurm: Any, runs: Path):
    # --time 3 with TERM@90: Slurm signals 30 to 90 s into the job (up to a minute early), after the first steps
    extra = ["train.max_steps=1000000", "checkpoint.save_every_n_steps=1000000", "--time", "3", "--signal", "TERM@90"]
    proc = _submit(runs, "timed", *extra)
    assert proc.wait(timeout=240) == 143, (runs / "timed.err").read_text()[-3000:]
    run_dir = runs / "mnist" / "timed"
    events = _events(run_dir)
    states = [(e["state"], e["step"], e["reason"]) for e in events if e["kind"] == "status"]
    assert states[-1][0] == "interrupted" and states[-1][2] == "signal 15" and states[-1][1] > 0
    assert [e["step"] for e in events if e["kind"] == "checkpoint"] == [states[-1][1]]
    job_id = (run_dir / "slurm_job").read_text().strip()
    assert _job_field(slurm, job_id, "JobState") == "FAILED"  # it ended itself before the limit: not TIMEOUT
    assert _job_field(slurm, job_id, "ExitCode") == "143:0"


def test_requeued_job_resumes_from_its_checkpoint_with_the_uninterrupted_losses(
    slurm: Any, runs: Path, reference: dict
):
    extra = ["train.max_steps=200", "checkpoint.save_every_n_steps=20", "checkpoint.max_to_keep=20", "--requeue"]
    proc = _submit(runs, "requeued", *extra)
    run_dir = runs / "mnist" / "requeued"
    _wait_for(lambda: _has_event(run_dir, "checkpoint", step=20), "the step-20 checkpoint")
    job_id = (run_dir / "slurm_job").read_text().strip()
    assert slurm.run("scontrol", "requeue", job_id).returncode == 0
    _wait_for(lambda: _job_field(slurm, job_id, "JobState") == "PENDING", "the requeued job to pend", timeout=90)
    slurm.run("scontrol", "update", f"JobId={job_id}", "StartTime=now")  # Slurm holds a requeued job ~2 min
    assert proc.wait(timeout=300) == 0, (runs / "requeued.err").read_text()[-3000:]
    events = _events(run_dir)
    states = [(e["state"], e["step"]) for e in events if e["kind"] == "status"]
    stopped = next(step for state, step in states if state == "interrupted")
    assert 20 <= stopped < 200 and states[-1] == ("finished", 200)
    starts = [e for e in events if e["kind"] == "run_start"]
    assert [s["resumed_from_step"] for s in starts] == [None, stopped]
    assert [s["slurm"]["restart_count"] for s in starts] == [0, 1]
    assert "resuming" in (run_dir.parent.parent / "slurm" / f"xax-mnist-{job_id}.out").read_text()
    assert _max_diff(_losses(events), reference[200], range(1, 201)) < TOL
    assert f"job {job_id} RUNNING on {slurm.node}, restart 1" in (runs / "requeued.err").read_text()  # followed on


def test_no_sbatch_and_a_bad_partition_are_one_line_each(slurm: Any, tmp_path: Path):
    del slurm
    args = ["slurm", "tasks/mnist.toml", *SMALL, "--runs-dir", str(tmp_path), "--submit"]
    no_path = subprocess.run(
        [str(BIN / "xaxengine"), *args],
        cwd=REPO,
        env=engine_env(PATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert no_path.returncode == 2 and no_path.stderr.count("\n") == 1
    assert no_path.stderr.startswith("xaxengine: error: sbatch not found on PATH: submit ")
    bad = run_engine(*args, "--partition", "nosuch")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "sbatch refused" in bad.stderr and "Invalid partition name specified" in bad.stderr


SWEEP = """task = "mnist.toml"
objective = "valid/accuracy"
direction = "maximize"
trials = 5
parallel = 1
sampler = "random"
pruner = "none"
overrides = ["train.max_steps=40", "train.log_every_n_steps=20", "train.valid_every_n_steps=20", "hidden=32"]

[params]
"optimizer.lr" = { log_uniform = [1e-3, 1e-2] }
"""


def test_a_three_worker_sweep_array_runs_each_trial_exactly_once(slurm: Any, tmp_path: Path):
    import optuna

    from xaxengine.sweep.study import open_storage

    (tmp_path / "mnist.toml").write_text((REPO / "tasks" / "mnist.toml").read_text())
    (tmp_path / "digits.sweep.toml").write_text(SWEEP)
    runs = tmp_path / "runs"
    args = ["slurm", "--sweep", str(tmp_path / "digits.sweep.toml"), "--workers", "3", "--runs-dir", str(runs)]
    done = run_engine(*args, "--submit", "--wait", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep_dir,) = (runs / "sweeps").iterdir()
    job_id = (sweep_dir / "slurm_job").read_text().strip()
    assert f"Submitted batch job {job_id}\nsweep dir: {sweep_dir}\n" in done.stderr
    assert "5/5 trials done" in done.stderr and "6/5" not in done.stderr  # an over-budget ask is not a trial
    tasks = slurm.run("scontrol", "show", "job", "--oneliner", job_id).stdout.splitlines()
    assert len(tasks) == 3 and all("JobState=COMPLETED" in line for line in tasks)
    meta = json.loads((sweep_dir / "sweep.json").read_text())
    assert meta["storage"] == f"journal:{sweep_dir / 'study.journal'}"
    study = optuna.load_study(study_name=meta["sweep_id"], storage=open_storage(meta["storage"]))
    ran = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.number for t in ran) == list(range(5))
    others = [t for t in study.get_trials() if t.state != optuna.trial.TrialState.COMPLETE]
    assert all(t.user_attrs.get("reason", "").startswith("over budget") for t in others)  # asked, never run
    assert len({t.user_attrs["worker"] for t in ran}) >= 2  # the array's drivers shared the work
    run_dirs = sorted(runs.glob(f"mnist/{meta['sweep_id']}-t*"))
    assert [d.name[-4:] for d in run_dirs] == [f"t{n:03d}" for n in range(5)]
    for run_dir in run_dirs:  # each trial's engine started once
        assert [e["kind"] for e in _events(run_dir)].count("run_start") == 1
    stop = run_engine("sweep", "stop", str(sweep_dir))
    assert stop.returncode == 2 and stop.stderr.count("\n") == 1 and f"job {job_id}" in stop.stderr


def test_engines_that_die_without_a_word_leave_a_failed_status_saying_what_slurm_said(slurm: Any, runs: Path):
    # SIGKILL to both ranks is what a node that vanishes does to them: no status, no checkpoint; the job then ends
    # FAILED, and --wait (the only one left to say it) writes the run's final status with Slurm's word for it.
    del slurm
    proc = _submit(runs, "vanished", "train.max_steps=100000", "checkpoint.save_every_n_steps=100000")
    run_dir = runs / "mnist" / "vanished"
    _wait_for(lambda: _has_event(run_dir, "scalars", phase="train"), "the first train step")
    ranks = [
        p
        for p in psutil.process_iter(["cmdline"])
        if (argv := p.info["cmdline"] or []) and "python" in Path(argv[0]).name and "run" in argv
        and "vanished" in argv and "slurm" not in argv  # the engines, not --wait's follower or srun
    ]  # fmt: skip
    assert ranks, "no engine process found"
    for rank in ranks:
        rank.kill()
    code = proc.wait(timeout=120)
    err = (runs / "vanished.err").read_text()
    job_id = (run_dir / "slurm_job").read_text().strip()
    assert code != 0 and f"job {job_id} FAILED" in err, err[-2000:]
    line = f"xaxengine: error: Slurm job {job_id} ended FAILED (NonZeroExitCode) before the engine reported an end"
    assert err.count("xaxengine: error:") == 1 and line in err
    events = _events(run_dir)
    assert [(e["state"], e["reason"]) for e in events if e["kind"] == "status"][-1] == ("failed", line[18:])
    assert len({e["seq"] for e in events}) == len(events)
    followed = LineReader().feed((runs / "vanished.out").read_bytes())
    assert followed[-1] == events[-1]  # --wait's stdout got the same final line
