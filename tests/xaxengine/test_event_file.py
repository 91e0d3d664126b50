"""Event file integrity: whole lines, a partial last line cut before a resume appends, `tail --follow` surviving
truncation and replacement, the writer recreating a deleted file. Real files, the real CLI, real processes."""

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, engine_env, run_engine
from tests.fixtures.faults import can_mount, tmpfs
from xaxengine import event_file
from xaxengine.event_file import EventFile, cut_partial_line
from xaxengine.protocol import EventWriter, LineReader, encode, last_seq_in_file, make_event, read_events

SHORT = ["train.log_every_n_steps=10", "train.valid_every_n_steps=0", "logger.progress=plain"]
SHORT += ["logger.tensorboard=false", "checkpoint.save_every_n_steps=20"]
HOLDER = (
    "import sys, time; from pathlib import Path; from xaxengine.runs import RunLock;"
    "lock = RunLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True); time.sleep(600)"
)


def lines(*seqs: int) -> bytes:
    return b"".join(encode(make_event(s, "log", t=float(s), level="info", message=f"m{s}")) for s in seqs)


def test_cut_partial_line_keeps_whole_lines_only(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(lines(0, 1) + b'{"v":1,"seq":2,"t":')
    assert cut_partial_line(path) == len(b'{"v":1,"seq":2,"t":')
    assert path.read_bytes() == lines(0, 1)
    assert cut_partial_line(path) == 0 and path.read_bytes() == lines(0, 1)
    path.write_bytes(b"x" * 200_000)  # no newline at all: nothing whole to keep
    assert cut_partial_line(path) == 200_000 and path.read_bytes() == b""
    assert cut_partial_line(tmp_path / "missing.jsonl") == 0


def test_writer_appends_after_the_cut_and_seq_continues(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(lines(0, 1, 2) + b'{"v":1,"seq":3,"kind":"sca')  # a write cut short by a full disk
    with EventFile(path) as f:
        assert f.cut_bytes == len(b'{"v":1,"seq":3,"kind":"sca')
        writer = EventWriter([], next_seq=last_seq_in_file(path) + 1, files=[f])
        writer.emit("status", state="starting", reason=None, step=0)
    reader = LineReader()
    events = reader.feed(path.read_bytes())
    assert reader.bad_lines == 0 and reader.pending == b""
    assert [e["seq"] for e in events] == [0, 1, 2, 3] and events[-1]["kind"] == "status"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_writer_recreates_a_deleted_or_replaced_file_with_a_warning(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(event_file, "CHECK_EVERY_S", 0.0)
    path = tmp_path / "events.jsonl"
    with EventFile(path) as f:
        writer = EventWriter([], files=[f])
        writer.emit("log", level="info", message="before")
        path.unlink()
        writer.emit("log", level="info", message="after delete")
        after_delete = [(e["seq"], e["level"]) for e in read_events(path)]
        assert after_delete == [(1, "info"), (2, "warning")]  # the event that noticed, then the warning
        path.rename(tmp_path / "events.jsonl.1")  # rotated away
        writer.emit("log", level="info", message="after rotation")
        assert f.recreated == 2
    messages = [(e["seq"], e["level"]) for e in read_events(path)]
    assert messages == [(3, "info"), (4, "warning")]
    rotated = [e["message"] for e in read_events(tmp_path / "events.jsonl.1")]
    assert rotated[0] == "after delete" and "was deleted" in rotated[1] and "recreated" in rotated[1]
    assert "was deleted" in next(e["message"] for e in read_events(path) if e["level"] == "warning")


def test_resume_after_a_partial_last_line_cuts_it_and_continues_seq(runs_dir: Path):
    first = run_engine("run", "tasks/mnist.toml", *SHORT, "train.max_steps=20", "--runs-dir", str(runs_dir))
    assert first.returncode == 0, first.stderr
    (run_dir,) = (runs_dir / "mnist").iterdir()
    path = run_dir / "events.jsonl"
    last = last_seq_in_file(path)
    partial = b'{"v":1,"seq":' + str(last + 1).encode() + b',"t":1.0,"kind":"scal'
    with open(path, "ab") as f:
        f.write(partial)
    resumed = run_engine("resume", str(run_dir), "train.max_steps=40")
    assert resumed.returncode == 0, resumed.stderr
    reader = LineReader()
    events = reader.feed(path.read_bytes())
    assert reader.bad_lines == 0 and reader.pending == b""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(len(seqs)))  # the resumed run's first event took seq last + 1
    warning = next(e for e in events if e["kind"] == "log" and "partial last line" in e["message"])
    assert warning["seq"] > last and f"({len(partial)} bytes)" in warning["message"]
    assert events[-1]["kind"] == "status" and events[-1]["state"] == "finished" and events[-1]["step"] == 40


class Follower:
    """`xaxengine tail RUN --follow` in a subprocess; its stdout lines decoded as they come."""

    def __init__(self, run_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "xaxengine"), "tail", str(run_dir), "--follow"], env=engine_env(), stdout=subprocess.PIPE
        )
        self.seqs: list[int] = []
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, seq: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while seq not in self.seqs:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"seq {seq} not followed; got {self.seqs}") from None
            event = LineReader().feed(line)
            self.seqs += [e["seq"] for e in event]


def test_tail_follow_reopens_a_truncated_or_recreated_file_without_duplicates(runs_dir: Path):
    run_dir = runs_dir / "mnist" / "rotated"
    run_dir.mkdir(parents=True)
    path = run_dir / "events.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    path.write_bytes(lines(*range(10)))
    follower = Follower(run_dir)
    try:
        follower.wait_for(9)
        with open(path, "r+b") as f:  # `: > events.jsonl`, then the engine appends on
            f.truncate(0)
        with open(path, "ab") as f:
            f.write(lines(10, 11, 12))
        follower.wait_for(12)
        path.unlink()  # deleted and recreated; the new file repeats old events (a copy): none may come twice
        path.write_bytes(lines(*range(5), 13, 14))
        follower.wait_for(14)
        path.rename(run_dir / "events.jsonl.1")  # rotated away, a new file started
        path.write_bytes(lines(15) + encode(make_event(16, "status", state="finished", reason=None, step=1)))
        follower.wait_for(16)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert follower.proc.wait(timeout=30) == 0  # a final status and no engine: the follower ends
    assert follower.seqs == list(range(17))


@pytest.mark.skipif(not can_mount(), reason="mounting a tmpfs needs root with CAP_SYS_ADMIN")
def test_the_reserve_lets_the_lines_that_end_a_run_land_on_a_disk_something_else_filled():
    with tmpfs("1m") as disk:
        path = disk / "events.jsonl"
        file = EventFile(path, reserve_bytes=64 * 1024)
        writer = EventWriter([], files=[file])
        writer.emit("log", level="info", message="before")
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):  # another process fills the disk to the last byte
            while os.write(fd, bytes(512)):
                pass
        os.close(fd)
        for i in range(100):  # past the page the file already has (those bytes fit without new space)
            writer.emit("log", level="info", message=f"after {i}: " + "x" * 80)
        writer.emit("checkpoint_failed", step=10, reason="No space left on device", last_good_step=0)
        writer.emit("status", state="failed", reason="checkpoint at step 10 failed", step=0)
        assert file.reserve_used and writer.file_error == f"{path}: No space left on device"
        assert not (disk / ".events-reserve").exists()
        file.close()
        kinds = [e["kind"] for e in read_events(path)]
        assert kinds == ["log"] * 101 + ["checkpoint_failed", "status"]  # whole lines, the end included


def test_the_reserve_is_gone_after_a_clean_close(tmp_path: Path):
    file = EventFile(tmp_path / "events.jsonl", reserve_bytes=4096)
    assert (tmp_path / ".events-reserve").stat().st_size == 4096
    file.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]
