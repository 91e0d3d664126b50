"""The one run catalogue: `xaxengine ls` / `ls --json` and the TUI's picker give the same task, state and liveness.

Run dirs are real: events written by the engine's own writer, locks held by real processes, engines killed with real
signals. Big files are bigger than any window the reader reads from either end.
"""

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, engine_env, run_engine
from xaxengine.catalog import MAX_SCAN_BYTES, TAIL_BYTES, RunInfo, list_runs, read_run_info
from xaxengine.event_file import EventFile
from xaxengine.protocol import EventWriter, read_events
from xaxengine.runs import resolve_runs_dir
from xaxtui.catalog import scan_runs
from xaxtui.sessions import default_runs_dir

TASK = "tasks.mnist:MnistTask"
HOLDER = (
    "import sys, time; from pathlib import Path; from xaxengine.runs import RunLock;"
    "lock = RunLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True); time.sleep(600)"
)


class RunWriter:
    """Writes a run dir's events as the engine does (its EventFile and EventWriter)."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.toml").write_text(f'task = "{TASK}"\n')
        self.run_dir = run_dir
        self.file = EventFile(run_dir / "events.jsonl")
        self.writer = EventWriter([], files=[self.file])

    def start(self, pid: int, step: int = 0) -> None:
        self.writer.emit("status", state="starting", reason=None, step=step)
        config = {"train": {"max_steps": 10**6}, "notes": "x" * 2000}
        self.writer.emit(
            "run_start", run_id=self.run_dir.name, task=TASK, config=config, host=socket.gethostname(), pid=pid
        )
        self.writer.emit("status", state="compiling", reason=None, step=step)
        self.writer.emit("status", state="running", reason=None, step=step)

    def train(self, first: int, count: int) -> None:
        for step in range(first, first + count):
            values = {"loss": 1.0 / step, "accuracy": 0.5, "grad_norm": 1.0}
            self.writer.emit("scalars", step=step, phase="train", values=values, samples_per_s=1e4, elapsed_s=1.0)
            self.writer.emit("stats", cpu_percent=50.0, rss_bytes=1e9, gpus=[], process=0)

    def status(self, state: str, step: int) -> None:
        self.writer.emit("status", state=state, reason=None, step=step)


def hold_lock(run_dir: Path) -> subprocess.Popen[str]:
    """A real process holding the run's lock, as a live engine does."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def ls_json(runs: Path) -> dict[str, dict]:
    proc = run_engine("ls", "--runs-dir", str(runs), "--json")
    assert proc.returncode == 0, proc.stderr
    return {row["run_id"]: row for row in json.loads(proc.stdout)}


def ls_table(runs: Path) -> dict[str, list[str]]:
    proc = run_engine("ls", "--runs-dir", str(runs))
    assert proc.returncode == 0, proc.stderr
    return {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:]}


def tui(runs: Path) -> dict[str, tuple[str, str, bool, int]]:
    return {r.run_id: (r.task, r.state, r.alive, r.step) for r in scan_runs(runs)}


@pytest.fixture
def big_runs(runs_dir: Path) -> dict[str, subprocess.Popen[str]]:
    """Three runs whose events.jsonl is over 1 MiB: finished, live (lock held), dead (its lock holder SIGKILLed)."""
    holders = {}
    for run_id in ("finished", "live", "dead"):
        run_dir = runs_dir / "mnist" / run_id
        writer = RunWriter(run_dir)
        holders[run_id] = hold_lock(run_dir)
        writer.start(holders[run_id].pid)
        writer.train(1, 4000)
        if run_id == "finished":
            writer.status("finished", 4000)
        assert (run_dir / "events.jsonl").stat().st_size > 1 << 20
    kill(holders.pop("finished"))
    kill(holders.pop("dead"))
    yield holders
    for proc in holders.values():
        kill(proc)


def test_ls_and_picker_read_task_and_state_of_runs_over_1_mib(big_runs, runs_dir):
    rows = ls_json(runs_dir)
    expected = {"finished": ("finished", False), "live": ("running", True), "dead": ("dead", False)}
    assert {k: (r["state"], r["alive"]) for k, r in rows.items()} == expected
    assert {r["task"] for r in rows.values()} == {TASK}
    assert {r["step"] for r in rows.values()} == {4000} and rows["live"]["last_loss"] == pytest.approx(1 / 4000)
    assert rows["live"]["pid"] == big_runs["live"].pid
    table = ls_table(runs_dir)
    assert {k: (row[1], row[2]) for k, row in table.items()} == {k: (TASK, s) for k, (s, _) in expected.items()}
    assert tui(runs_dir) == {k: (TASK, state, alive, 4000) for k, (state, alive) in expected.items()}


def test_a_status_older_than_every_tail_window_is_found_by_the_bounded_backward_scan(runs_dir):
    run_dir = runs_dir / "mnist" / "stopping"
    writer = RunWriter(run_dir)
    holder = hold_lock(run_dir)
    try:
        writer.start(holder.pid)
        writer.train(1, 200)
        writer.status("stopping", 200)
        writer.train(201, 3000)  # ~1 MiB after the status: many times TAIL_BYTES
        data = (run_dir / "events.jsonl").read_bytes()
        assert len(data) - data.rindex(b'"stopping"') > 8 * TAIL_BYTES  # the status is far before the tail windows
        info = read_run_info(run_dir)
        assert info is not None
        assert (info.state, info.last_status, info.alive, info.step) == ("stopping", "stopping", True, 3200)
        cut = read_run_info(run_dir, max_scan_bytes=TAIL_BYTES)  # the bound: the status is past it
        assert cut is not None and cut.state == "running" and cut.task == TASK and MAX_SCAN_BYTES > 1 << 20
    finally:
        kill(holder)
    dead = read_run_info(run_dir)
    assert dead is not None and (dead.state, dead.last_status, dead.alive) == ("dead", "stopping", False)


def test_a_resumed_live_run_is_running_and_a_sigkilled_one_dead_in_ls_and_the_picker(runs_dir):
    run_dir = runs_dir / "mnist" / "resumed"
    writer = RunWriter(run_dir)
    first = hold_lock(run_dir)
    writer.start(first.pid)
    writer.train(1, 50)
    writer.status("interrupted", 50)
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=30)
    second = hold_lock(run_dir)  # the resumed engine: the first run_start's pid is dead, the lock is held again
    try:
        writer.start(second.pid, step=50)
        writer.train(51, 10)
        assert ls_json(runs_dir)["resumed"]["state"] == "running" and ls_json(runs_dir)["resumed"]["alive"]
        assert ls_json(runs_dir)["resumed"]["pid"] == second.pid
        assert tui(runs_dir)["resumed"] == (TASK, "running", True, 60)
    finally:
        kill(second)
    assert (ls_json(runs_dir)["resumed"]["state"], ls_json(runs_dir)["resumed"]["alive"]) == ("dead", False)
    assert tui(runs_dir)["resumed"] == (TASK, "dead", False, 60)


def test_a_starting_run_is_live_and_named_before_its_run_start(runs_dir):
    run_dir = runs_dir / "mnist" / "starting"
    writer = RunWriter(run_dir)
    holder = hold_lock(run_dir)
    try:
        writer.status("starting", 0)  # the engine's first event; run_start comes after the model is built
        assert (ls_json(runs_dir)["starting"]["state"], ls_json(runs_dir)["starting"]["alive"]) == ("starting", True)
        assert tui(runs_dir)["starting"] == (TASK, "starting", True, 0)
    finally:
        kill(holder)
    assert tui(runs_dir)["starting"] == (TASK, "dead", False, 0)


def test_without_a_lock_file_the_newest_run_start_pid_on_this_host_decides(runs_dir):
    run_dir = runs_dir / "mnist" / "copied"
    writer = RunWriter(run_dir)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        writer.start(sleeper.pid)
        assert not (run_dir / "lock").exists()
        info = read_run_info(run_dir)
        assert info is not None and (info.state, info.alive) == ("running", True)
    finally:
        kill(sleeper)
    info = read_run_info(run_dir)
    assert info is not None and (info.state, info.alive) == ("dead", False)


def test_a_sigkilled_engine_shows_dead_everywhere_and_a_deleted_events_file_is_recreated(runs_dir):
    cmd = [str(BIN / "xaxengine"), "run", "tasks/mnist.toml", "train.max_steps=100000", "train.log_every_n_steps=5"]
    cmd += ["logger.progress=off", "logger.tensorboard=false", "--runs-dir", str(runs_dir), "--run-id", "k"]
    engine = subprocess.Popen(cmd, cwd=REPO, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = runs_dir / "mnist" / "k"
    path = run_dir / "events.jsonl"
    try:
        _wait(lambda: path.exists() and any(e["kind"] == "scalars" for e in read_events(path)), engine)
        assert oct(path.stat().st_mode & 0o777) == oct(0o600) == oct((run_dir / "config.toml").stat().st_mode & 0o777)
        rows = ls_json(runs_dir)
        assert (rows["k"]["state"], rows["k"]["alive"], rows["k"]["task"]) == ("running", True, TASK)
        path.unlink()  # deleted under the live engine: it recreates the file and says so
        _wait(lambda: path.exists() and any(e["kind"] == "scalars" for e in read_events(path)), engine)
        warnings = [e["message"] for e in read_events(path) if e["kind"] == "log" and e["level"] == "warning"]
        assert any("was deleted" in w and "recreated" in w for w in warnings)
        assert ls_json(runs_dir)["k"]["alive"]  # still listed, still live
    finally:
        kill(engine)
    rows = ls_json(runs_dir)
    assert (rows["k"]["state"], rows["k"]["alive"], rows["k"]["last_status"]) == ("dead", False, "running")
    assert tui(runs_dir)["k"][1:3] == ("dead", False)
    assert [r.state for r in list_runs(runs_dir)] == ["dead"]


def _wait(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "engine exited early"
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_or_unset_xax_runs_dir_means_runs_in_both_halves(monkeypatch, tmp_path, value):
    if value is None:
        monkeypatch.delenv("XAX_RUNS_DIR", raising=False)
    else:
        monkeypatch.setenv("XAX_RUNS_DIR", value)
    assert resolve_runs_dir() == Path("runs") == default_runs_dir()
    monkeypatch.setenv("XAX_RUNS_DIR", str(tmp_path))
    assert resolve_runs_dir() == tmp_path == default_runs_dir()
    assert resolve_runs_dir(tmp_path / "flag") == tmp_path / "flag"


def test_the_cli_with_an_empty_xax_runs_dir_lists_dot_runs(tmp_path):
    writer = RunWriter(tmp_path / "runs" / "mnist" / "here")
    writer.status("finished", 3)
    env = {**engine_env(), "XAX_RUNS_DIR": ""}
    proc = subprocess.run(
        [str(BIN / "xaxengine"), "ls", "--json"], check=False, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["run_id"] for r in json.loads(proc.stdout)] == ["here"]


def test_ls_json_rows_read_back_into_the_same_run_info_and_old_rows_still_parse(big_runs, runs_dir):
    rows = json.loads(run_engine("ls", "--runs-dir", str(runs_dir), "--json").stdout)
    local = {r.run_id: r for r in list_runs(runs_dir)}
    assert {row["run_id"]: RunInfo.from_dict(row) for row in rows} == local
    old = {"run_id": "r", "task": "t", "run_dir": "/x/r", "state": "running", "step": 3, "last_loss": None}
    info = RunInfo.from_dict({**old, "started_t": 1.0, "updated_t": 2.0, "pid": 7, "alive": True})
    assert (info.run_dir, info.state, info.pid, info.host, info.alive, info.last_status) == (
        Path("/x/r"),
        "running",
        7,
        None,
        True,
        None,
    )


def test_the_catalogue_and_the_ls_tail_stop_checkpoint_path_import_no_jax():
    modules = "xaxengine.cli xaxengine.run_commands xaxengine.catalog xaxengine.event_file xaxengine.exit_codes"
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules.split()!r}];"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'equinox', 'optax', 'orbax')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=engine_env())
    assert proc.stdout.strip() == "[]"
