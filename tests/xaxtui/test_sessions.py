"""The session manager without Textual: a recorder stands in for the app, the fake engine for xaxengine."""

import fcntl
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.xaxtui.conftest import RUN_A, TASK
from xaxengine.protocol import encode, make_event
from xaxtui.channel import Batch, BatchChannel
from xaxtui.remote import RemoteError, RemoteHost, RemoteRunInfo, RemoteTailSource, RemoteTarget
from xaxtui.session import RunSession
from xaxtui.sessions import STILL_RUNNING, Continuation, SessionManager, runs_dir_for
from xaxtui.sources import BATCH_EVENTS, FileTailSource


class Recorder:
    """A frontend that records notices, queues wake-ups and runs blocking calls at once (in the caller's thread)."""

    def __init__(self) -> None:
        self.notices: list[tuple[str, str]] = []
        self.wakes: queue.Queue = queue.Queue()

    def notice(self, text: str, severity: str = "information", timeout: float | None = None) -> None:
        self.notices.append((severity, text))

    def wake_source(self, key: str, source: object) -> None:
        self.wakes.put((key, source))

    def run_blocking(self, call: Callable[[], Continuation]) -> None:
        call()()


def _manager(tmp_path: Path) -> tuple[SessionManager, Recorder]:
    frontend = Recorder()
    return SessionManager(frontend, tmp_path / "runs"), frontend  # ty: ignore[invalid-argument-type]


def pump(manager: SessionManager, frontend: Recorder, until: Callable[[], bool], timeout: float = 60.0) -> None:
    """Delivers woken sources' batches (as the app's handler does) until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached; notices {frontend.notices}")
        try:
            key, source = frontend.wakes.get(timeout=0.1)
        except queue.Empty:
            continue
        manager.deliver(key, source)


def _killed_copy(tmp_path: Path) -> Path:
    """RUN_A cut off at step 250 as if killed -9 (no final status; checkpoints up to 200)."""
    run_dir = tmp_path / "mnist" / RUN_A.name
    run_dir.mkdir(parents=True)
    events = [json.loads(line) for line in (RUN_A / "events.jsonl").read_text().splitlines()]
    kept = [e for e in events if e.get("step", 0) <= 250 and not (e["kind"] == "status" and e["state"] == "finished")]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in kept))
    return run_dir


def test_the_session_modules_import_no_textual():
    code = "import sys, xaxtui.sessions; print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_runs_dir_for_a_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XAX_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert runs_dir_for(RUN_A) == RUN_A.parent.parent
    assert runs_dir_for(TASK) == tmp_path / "elsewhere" == runs_dir_for(None)
    assert runs_dir_for(tmp_path) == tmp_path


def test_attach_follows_a_run_once_and_drops_batches_of_a_replaced_source(tmp_path: Path):
    manager, frontend = _manager(tmp_path)
    session = manager.attach(RUN_A)
    assert manager.attach(RUN_A) is session and list(manager.sessions) == [session.key]
    pump(manager, frontend, lambda: session.state.finished)  # a local tail follows on: it never ends by itself
    assert session.state.status == "finished" and session.state.step == 300 and session.version > 0
    stale = FileTailSource(RUN_A / "events.jsonl")
    assert manager.deliver(session.key, stale) is None and manager.deliver("no such key", session.source) is None


def test_stop_and_checkpoint_of_a_finished_run_say_there_is_nothing_to_do(tmp_path: Path):
    manager, frontend = _manager(tmp_path)
    session = manager.attach(RUN_A)
    pump(manager, frontend, lambda: session.state.finished)
    manager.stop(session)
    manager.checkpoint(session)
    manager.resume(session)
    assert frontend.notices == [
        ("warning", "nothing to stop"),
        ("warning", "the run is not running"),
        ("warning", "nothing to resume"),
    ]


def test_stop_of_a_run_not_launched_here_asks_the_engine(tmp_path: Path):
    manager, frontend = _manager(tmp_path)
    session = manager.attach(_killed_copy(tmp_path))
    pump(manager, frontend, lambda: session.state.step == 250)
    manager.stop(session)  # no lock file: the (fake) engine says the run is not running
    assert frontend.notices == [("error", f"stop failed: error: {session.run_dir} is not running")]


def test_launch_signal_checkpoint_stop_and_resume_a_local_engine(tmp_path: Path):
    manager, frontend = _manager(tmp_path)
    session = manager.launch(TASK, ["train.max_steps=100000"], tmp_path / "runs")
    assert session.launched and session.state.logs[0][2].startswith("$ ") and "run" in session.state.logs[0][2]
    pump(manager, frontend, lambda: session.state.step > 10)
    assert manager.running_here() == [session] and session.run_dir is not None
    manager.checkpoint(session)
    pump(manager, frontend, lambda: bool(session.state.checkpoints))
    manager.resume(session)  # refused: our own engine still runs
    manager.stop_all(manager.running_here())
    pump(manager, frontend, lambda: session.ended)
    assert session.returncode == 143 and session.state.status == "interrupted" and manager.running_here() == []
    stopped_at, last_seq = session.state.step, session.state.last_seq
    manager.resume(session)
    pump(manager, frontend, lambda: session.state.status == "running" and session.state.step > stopped_at + 5)
    assert session.state.last_seq > last_seq and manager.running_here() == [session]
    manager.stop(session)
    pump(manager, frontend, lambda: session.ended)
    manager.close_all()
    assert session.channel is not None and session.channel.closed
    assert [text for _, text in frontend.notices] == [
        "checkpoint requested",
        STILL_RUNNING,
        f"resuming {session.label}",
        "stopping: SIGTERM sent (checkpoint, then exit)",
    ]


def test_resume_is_refused_while_another_engine_holds_the_lock(tmp_path: Path):
    manager, frontend = _manager(tmp_path)
    run_dir = _killed_copy(tmp_path)
    session = manager.attach(run_dir)
    pump(manager, frontend, lambda: session.state.step == 250)
    with open(run_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        manager.resume(session)
        assert frontend.notices == [("warning", STILL_RUNNING)] and not session.launched
    manager.resume(session)
    pump(manager, frontend, lambda: session.launched and session.ended)
    assert session.state.status == "finished" and session.state.step == 300 and session.returncode == 0


class ListedHost(RemoteHost):
    """A host whose ``xaxengine ls --json`` answer is given (or fails); its ssh is ``false``."""

    def __init__(self, runs: list[RemoteRunInfo] | RemoteError) -> None:
        super().__init__(RemoteTarget("gpu1"), ssh="false")
        self.runs = runs

    def list_runs(self) -> list[RemoteRunInfo]:
        if isinstance(self.runs, RemoteError):
            raise self.runs
        return self.runs


def _remote_session(manager: SessionManager, host: RemoteHost) -> RunSession:
    session = manager.attach_remote(host, "/r/mnist/run1")
    session.source.close()
    session.apply(Batch(events=[make_event(0, "run_start", run_id="run1"), make_event(1, "status", state="running")]))
    return session


@pytest.mark.parametrize(
    ("alive", "notice"), [(True, ("warning", STILL_RUNNING)), (False, ("information", "resuming run1 on gpu1"))]
)
def test_a_remote_resume_asks_the_hosts_lock_first(tmp_path: Path, alive: bool, notice: tuple[str, str]):
    manager, frontend = _manager(tmp_path)
    listed = RemoteRunInfo(Path("/r/mnist/run1"), "run1", "mnist", "running", alive=alive)
    session = _remote_session(manager, ListedHost([listed]))
    before = session.source
    manager.resume(session)
    assert frontend.notices == [notice]
    if alive:
        assert session.source is before and not session.launched
    else:
        source = session.source
        assert isinstance(source, RemoteTailSource) and source is not before and session.launched
        assert source.start == ["resume", "/r/mnist/run1"] and source.reader.last_seq == 1
        source.close()


def test_a_remote_lock_check_that_fails_says_why(tmp_path: Path):
    manager, frontend = _manager(tmp_path)
    session = _remote_session(manager, ListedHost(RemoteError("host unreachable: gpu1: boom")))
    manager.resume(session)
    assert frontend.notices == [("error", "resume: host unreachable: gpu1: boom")] and not session.launched


def test_add_remote_uses_the_remote_command_and_refuses_a_bad_spec(tmp_path: Path):
    manager, _ = _manager(tmp_path)
    manager.remote_cmd = "/opt/xax/bin/xaxengine"
    assert manager.add_remote("me@gpu1:2222").remote_cmd == "/opt/xax/bin/xaxengine"
    with pytest.raises(RemoteError):
        manager.add_remote("bad host name!")
    assert [h.target.label for h in manager.remotes] == ["me@gpu1:2222"]


def test_the_channel_blocks_a_fast_producer_until_drained():
    wakes: list[int] = []
    channel = BatchChannel(lambda: wakes.append(1), limit=250)
    put = []

    def produce() -> None:
        for i in range(6):
            channel.put(Batch(events=[make_event(100 * i + j, "log") for j in range(100)]))
            put.append(i)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while channel.pending < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    thread.join(0.3)  # the third put handed its batch over and waits: 300 events held, over the limit
    assert len(put) == 2 and thread.is_alive() and channel.pending == 300 and wakes == [1]
    drained = channel.drain()
    thread.join(0.3)  # drained but not folded yet: the producer still waits
    assert len(put) == 2 and thread.is_alive()
    channel.done()
    while len(put) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    thread.join(0.3)  # the sixth put waits again
    assert len(put) == 5 and thread.is_alive() and len(wakes) == 2
    drained += channel.drain()
    channel.done()
    thread.join(10)
    assert not thread.is_alive() and len(put) == 6
    rest = channel.drain()
    seqs = [ev["seq"] for batch in drained + rest for ev in batch.events]
    assert seqs == list(range(600)) and len(wakes) == 2


def test_an_undrained_file_source_holds_a_bounded_number_of_events(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(encode(make_event(i, "log")) for i in range(100_000)))
    woken = threading.Event()
    channel = FileTailSource(path, follow=False).start_reading(woken.set, limit=5_000)
    assert woken.wait(10)
    time.sleep(0.3)  # give the reader time to run ahead, if it could
    assert 0 < channel.pending <= 5_000 + 2 * BATCH_EVENTS  # the limit plus one batch in flight, not 100k
    seen = 0
    deadline = time.monotonic() + 30
    ended = False
    while not ended and time.monotonic() < deadline:
        for batch in channel.drain():
            seen += len(batch.events)
            ended = ended or batch.ended
        channel.done()
        time.sleep(0.01)
    assert ended and seen == 100_000
