"""Device layouts end to end, in real engine subprocesses on CPU.

One module fixture starts every run at once (they mostly wait on imports and on each other's cores): the digits MLP
for 30 steps with one loss per step under single_device, multi_cpu (2 and 4 devices), multi_process 2x1 joined
through simulated Slurm variables, and multi_process 2x2 from the local launcher. Then checkpoints written under
one layout are resumed under another. The 4-device run shards its large arrays (FSDP), so 1x4 vs 2x2 also checks
that FSDP-sharded and replicated parameters train the same.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import BIN, REPO, engine_env, run_engine
from xaxengine.protocol import LineReader, read_events
from xaxengine.task.launchers.base import free_port

TOL = 1e-5
COMMON = [
    "hidden=32",
    "train.max_steps=30",
    "train.log_every_n_steps=1",
    "train.valid_every_n_steps=30",
    "data.batch_size=32",
    "checkpoint.save_every_n_steps=15",
    "checkpoint.max_to_keep=5",
    "logger.progress=off",
    "logger.tensorboard=false",
    "stats.interval_s=0.3",
]
RUNS = {
    "single": ["launch.layout=single_device"],
    "cpu2": ["--layout", "multi_cpu", "--num-devices", "2"],
    "cpu4": ["launch.layout=multi_cpu", "launch.num_devices=4", "launch.fsdp=true", "launch.fsdp_min_size=64"],
    "proc2x2": ["launch.layout=multi_process", "launch.num_processes=2", "launch.num_devices=2"],
}


def _start(runs: Path, run_id: str, args: list[str], **env: str) -> subprocess.Popen[str]:
    log = open(runs / f"{run_id}.out", "w")  # noqa: SIM115 (closed with the process)
    cmd = [str(BIN / "xaxengine"), "run", "tasks/mnist.toml", *COMMON, *args, "--runs-dir", str(runs)]
    return subprocess.Popen(
        [*cmd, "--run-id", run_id], cwd=REPO, env=engine_env(**env), stdout=log, stderr=subprocess.STDOUT, text=True
    )


def _wait(proc: subprocess.Popen[str], timeout: float = 240) -> int:
    return proc.wait(timeout=timeout)


def _events(run_dir: Path) -> list[dict]:
    return list(read_events(run_dir / "events.jsonl"))


def _losses(run_dir: Path) -> dict[int, float]:
    return {
        e["step"]: e["values"]["loss"] for e in _events(run_dir) if e["kind"] == "scalars" and e["phase"] == "train"
    }


def _max_diff(a: dict[int, float], b: dict[int, float], steps: range) -> float:
    assert set(steps) <= set(a) and set(steps) <= set(b), (sorted(a), sorted(b))
    return max(abs(a[s] - b[s]) for s in steps)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every layout's run, finished; ``runs/mnist/<name>`` per layout."""
    runs = tmp_path_factory.mktemp("layouts")
    procs = {name: _start(runs, name, args) for name, args in RUNS.items()}
    port = str(free_port())
    slurm = {"SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "127.0.0.1", "XAX_COORDINATOR_PORT": port}
    for rank in range(2):
        args = ["launch.layout=multi_process", "launch.num_devices=1"]
        procs[f"slurm{rank}"] = _start(runs, "proc2x1", args, SLURM_PROCID=str(rank), **slurm)
    codes = {name: _wait(proc) for name, proc in procs.items()}
    assert all(code == 0 for code in codes.values()), (
        codes,
        {n: (runs / f"{n}.out").read_text()[-2000:] for n in RUNS},
    )
    return runs / "mnist"


def test_single_device_and_two_cpu_devices_agree(runs: Path):
    assert _max_diff(_losses(runs / "single"), _losses(runs / "cpu2"), range(1, 31)) < TOL


def test_two_processes_joined_from_slurm_variables_agree_with_single_device(runs: Path):
    assert _max_diff(_losses(runs / "single"), _losses(runs / "proc2x1"), range(1, 31)) < TOL
    start = next(e for e in _events(runs / "proc2x1") if e["kind"] == "run_start")
    assert start["layout"] == "multi_process" and len(start["devices"]) == 2
    assert (runs / "proc2x1" / "stdout.rank1.log").exists()


def test_two_processes_of_two_devices_equal_one_process_of_four(runs: Path):
    assert _max_diff(_losses(runs / "cpu4"), _losses(runs / "proc2x2"), range(1, 31)) < TOL
    assert _max_diff(_losses(runs / "single"), _losses(runs / "cpu4"), range(1, 31)) < TOL


def test_run_start_layout_is_truthful_and_only_rank_zero_writes(runs: Path):
    for name, layout, devices in (
        ("single", "single_device", 1),
        ("cpu4", "multi_cpu", 4),
        ("proc2x2", "multi_process", 4),
    ):
        events = _events(runs / name)
        starts = [e for e in events if e["kind"] == "run_start"]
        assert len(starts) == 1 and starts[0]["layout"] == layout and len(starts[0]["devices"]) == devices
        assert [e["state"] for e in events if e["kind"] == "status"] == ["starting", "compiling", "running", "finished"]
        assert [e["step"] for e in events if e["kind"] == "checkpoint"] == [15, 30]
        valid = [e for e in events if e["kind"] == "scalars" and e["phase"] == "valid"]
        assert [e["step"] for e in valid] == [30]
    processes = {e.get("process") for e in _events(runs / "proc2x2") if e["kind"] == "stats"}
    assert processes == {0, 1}
    logs = [e["message"] for e in _events(runs / "cpu4") if e["kind"] == "log"]
    placed = [re.search(r"over 4 devices .*; (\d+) of (\d+) state arrays sharded \(fsdp=True\)", m) for m in logs]
    counts = [(int(m[1]), int(m[2])) for m in placed if m]
    assert counts == [(9, 22)]  # 3 weight matrices x (params, adam mu, adam nu); biases, counts, step, key replicated


@pytest.fixture(scope="module")
def restored(runs: Path) -> Path:
    """cpu4's step-15 checkpoint resumed on 1 device, and single's on 2 CPU devices (run concurrently)."""
    for source, name in (("cpu4", "four_to_one"), ("single", "one_to_two")):
        shutil.copytree(runs / source, runs / name)
        shutil.rmtree(runs / name / "checkpoints" / "30")
    procs = [
        subprocess.Popen(
            [str(BIN / "xaxengine"), "resume", str(runs / name), *args, "train.max_steps=30"],
            cwd=REPO,
            env=engine_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in (("four_to_one", ["launch.layout=single_device"]), ("one_to_two", ["--layout", "multi_cpu"]))
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
    return runs


@pytest.mark.parametrize(("name", "layout"), [("four_to_one", "single_device"), ("one_to_two", "multi_cpu")])
def test_checkpoint_restores_under_another_layout(restored: Path, name: str, layout: str):
    events = _events(restored / name)
    starts = [e for e in events if e["kind"] == "run_start"]
    assert starts[-1]["layout"] == layout and starts[-1]["resumed_from_step"] == 15
    resumed = {
        e["step"]: e["values"]["loss"]
        for e in events[events.index(starts[-1]) :]
        if e["kind"] == "scalars" and e["phase"] == "train"
    }
    assert sorted(resumed) == list(range(16, 31))
    assert _max_diff(_losses(restored / "single"), resumed, range(16, 31)) < TOL


def _wait_for_training(proc: subprocess.Popen, run_dir: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not (run_dir / "events.jsonl").exists() or not any(e["kind"] == "scalars" for e in _events(run_dir)):
        assert proc.poll() is None and time.monotonic() < deadline, f"launcher exited {proc.returncode}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, Path]]:
    """Two 2x1 multi_process runs started together: ``kill`` loses rank 1 to SIGKILL, ``term`` gets SIGTERM.

    Returns ``{name: (launcher exit code, launcher stderr, run dir)}``; ``kill`` also pipes its events to
    ``RUNS/kill.events`` (``--events -``) and records whether rank 0 outlived the launcher (``RUNS/kill.rank0``).
    """
    runs = tmp_path_factory.mktemp("stopped")
    base = [str(BIN / "xaxengine"), "run", "tasks/mnist.toml", "hidden=32", "logger.progress=off"]
    base += ["launch.layout=multi_process", "launch.num_devices=1", "train.max_steps=100000", "--runs-dir", str(runs)]
    launchers = {}
    for name, extra in (("kill", ["--events", "-"]), ("term", [])):
        with open(runs / f"{name}.events", "w") as out:
            launchers[name] = subprocess.Popen(
                [*base, *extra, "--run-id", name],
                cwd=REPO,
                env=engine_env(),
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
            )
    for name, launcher in launchers.items():
        _wait_for_training(launcher, runs / "mnist" / name)
    ranks = {int(p.environ()["XAX_PROCESS_ID"]): p for p in psutil.Process(launchers["kill"].pid).children()}
    assert sorted(ranks) == [0, 1]
    ranks[1].send_signal(signal.SIGKILL)
    launchers["term"].send_signal(signal.SIGTERM)
    results = {}
    for name, launcher in launchers.items():
        _, err = launcher.communicate(timeout=60)
        results[name] = (launcher.returncode, err, runs / "mnist" / name)
    alive = ranks[0].is_running() and ranks[0].status() != psutil.STATUS_ZOMBIE
    (runs / "kill.rank0").write_text("alive" if alive else "gone")
    return results


def test_killing_one_rank_stops_the_run_and_names_the_rank(stopped: dict[str, tuple[int, str, Path]]):
    code, err, run_dir = stopped["kill"]
    assert code == 1, err[-2000:]
    assert "rank 1 died (killed by SIGKILL)" in err
    assert (run_dir.parents[1] / "kill.rank0").read_text() == "gone"
    last = [e for e in _events(run_dir) if e["kind"] == "status"][-1]
    assert last["state"] == "failed" and last["reason"].startswith("rank 1 died (killed by SIGKILL)")
    reader = LineReader()
    piped = reader.feed((run_dir.parents[1] / "kill.events").read_bytes())
    assert reader.bad_lines == 0  # gloo's notes on fd 1 were moved to stderr; stdout is only events
    assert piped[-1]["kind"] == "status" and piped[-1]["state"] == "failed"
    assert [e["seq"] for e in piped] == sorted({e["seq"] for e in piped})


def test_sigterm_to_the_launcher_stops_every_rank_at_the_same_step(stopped: dict[str, tuple[int, str, Path]]):
    code, err, run_dir = stopped["term"]
    assert code == 143, err[-2000:]
    events = _events(run_dir)
    states = [(e["state"], e["step"]) for e in events if e["kind"] == "status"]
    assert states[-1][0] == "interrupted" and states[-2][0] == "stopping"
    step = states[-1][1]
    assert step % 50 == 0  # agreed on at a log boundary (log_every_n_steps=50)
    assert [e["step"] for e in events if e["kind"] == "checkpoint"][-1] == step


def test_an_error_on_one_rank_ends_the_job_at_once_and_names_the_rank(tmp_path: Path):
    # Rank 1 raises after step 3 while rank 0 goes on into the next step's collectives. Rank 1 must leave without
    # jax.distributed's shutdown barrier (which waits 5 minutes for rank 0, blocked in a collective rank 1 never
    # joins), so that the launcher sees the failure and stops rank 0.
    done = run_engine(
        "run", "tests/fixtures/tasks/faulty.toml", "raise_on_process=1", "train.max_steps=100000",
        "logger.progress=off", "launch.layout=multi_process", "launch.num_devices=1",
        "--runs-dir", str(tmp_path), "--run-id", "one_fails", timeout=150,  # the barrier alone holds it 300 s
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert "process 1 fails on purpose at step 3" in done.stderr
    assert "rank 1 failed (exit code 1); stopped the other ranks" in done.stderr
    last = [e for e in _events(tmp_path / "faulty" / "one_fails") if e["kind"] == "status"][-1]
    assert last["state"] == "failed" and last["reason"].startswith("rank 1 failed")


def test_cli_layout_errors_and_slurm_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    no_sbatch = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "sbatch").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(no_sbatch))  # a machine may have Slurm's client: this one must not
    bad = run_engine("run", "tasks/mnist.toml", "data.batch_size=30", "--layout", "multi_cpu", "--num-devices", "4")
    assert bad.returncode == 2 and "batch_size=30 does not divide over 4 devices" in bad.stderr
    script = tmp_path / "job.sbatch"
    made = subprocess.run(  # a PATH without sbatch, also where Slurm is installed (the slurm tests use a real one)
        [
            str(BIN / "xaxengine"),
            "slurm",
            "tasks/mnist.toml",
            "train.max_steps=5",
            "--nodes",
            "2",
            "--gpus-per-node",
            "4",
            "--runs-dir",
            str(tmp_path / "runs"),
            "-o",
            str(script),
            "--submit",
        ],
        cwd=REPO,
        env=engine_env(PATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 2 and "sbatch not found" in made.stderr
    assert (
        "#SBATCH --nodes=2" in script.read_text()
        and "train.max_steps=5 launch.layout=multi_process" in script.read_text()
    )
