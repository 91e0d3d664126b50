"""Event sources: file tail (partial lines, garbage), commands (stderr as logs, reconnect with --from-seq)."""

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from xaxengine.protocol import LineReader, encode, make_event
from xaxtui.catalog import scan_runs
from xaxtui.session import RunSession
from xaxtui.sources import Batch, CommandSource, EventSource, FileTailSource, SubprocessSource, stderr_level


async def _collect(source: EventSource, until=lambda batches: False, timeout: float = 10.0) -> list[Batch]:
    batches: list[Batch] = []

    async def run() -> None:
        async for batch in source:
            batches.append(batch)
            if until(batches):
                source.close()
                return

    await asyncio.wait_for(run(), timeout)
    return batches


def _seqs(batches: list[Batch]) -> list[int]:
    return [ev["seq"] for b in batches for ev in b.events]


def test_fast_reader_falls_back_on_garbage_and_drops_old_seq():
    reader = LineReader()
    lines = encode(make_event(0, "log", t=1.0)) + b"not json\n" + encode(make_event(1, "log", t=2.0))
    assert [e["seq"] for e in reader.feed(lines + b'{"v":1,"seq":2')] == [0, 1]
    assert reader.bad_lines == 1
    assert [e["seq"] for e in reader.feed(b',"t":3,"kind":"log"}\n' + encode(make_event(1, "log")))] == [2]
    assert reader.feed(b"[1,2]\n") == [] and reader.bad_lines == 2


async def test_file_tail_follows_and_holds_partial_line(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(encode(make_event(0, "run_start", run_id="r")) + b"garbage\n" + b'{"v":1,"seq":1,')
    source = FileTailSource(path, poll_s=0.01)

    async def append_rest() -> None:
        await asyncio.sleep(0.1)
        with open(path, "ab") as f:
            f.write(b'"t":1.0,"kind":"log","level":"info","message":"hi"}\n')

    task = asyncio.create_task(append_rest())
    batches = await _collect(source, until=lambda bs: len(_seqs(bs)) >= 2)
    await task
    assert _seqs(batches) == [0, 1]
    assert sum(b.bad_lines for b in batches) == 1


async def test_file_tail_without_follow_ends(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(encode(make_event(i, "log")) for i in range(25_000)))
    batches = await _collect(FileTailSource(path, follow=False))
    assert batches[-1].ended and _seqs(batches) == list(range(25_000))


async def test_command_source_stderr_becomes_logs():
    code = (
        "import sys;"
        "sys.stderr.write('WARNING slow disk\\n'); sys.stderr.flush();"
        'print(\'{"v":1,"seq":0,"t":1,"kind":"status","state":"finished"}\'); print(\'oops\')'
    )
    batches = await _collect(CommandSource([sys.executable, "-c", code]))
    assert _seqs(batches) == [0]
    assert ("warning", "WARNING slow disk") in [log for b in batches for log in b.logs]
    assert sum(b.bad_lines for b in batches) == 1 and batches[-1].returncode == 0


async def test_command_source_reconnects_from_last_seq(tmp_path: Path):
    asked = tmp_path / "asked"
    script = (
        "import sys;"
        f"open({str(asked)!r}, 'a').write(sys.argv[1] + '\\n');"
        "n = int(sys.argv[1]);"
        "state = 'finished' if n >= 2 else 'running';"
        'print(\'{"v":1,"seq":%d,"t":1,"kind":"log"}\' % n);'
        'print(\'{"v":1,"seq":%d,"t":1,"kind":"status","state":"%s"}\' % (n + 1, state))'
    )
    source = CommandSource(lambda seq: [sys.executable, "-c", script, str(seq)], reconnect=True, retry_s=0.01)
    batches = await _collect(source)
    assert asked.read_text().split() == ["0", "2"]
    assert _seqs(batches) == [0, 1, 2, 3]


def test_stderr_level():
    assert stderr_level(b"2026 ERROR boom") == "error"
    assert stderr_level(b"Traceback (most recent call last):") == "error"
    assert stderr_level(b"plain") == "info"


HOLDER = (
    "import sys, time; from pathlib import Path; from xaxengine.runs import RunLock;"
    "lock = RunLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True); time.sleep(600)"
)


def _lines(*seqs: int) -> bytes:
    return b"".join(encode(make_event(s, "log", t=float(s), level="info", message=f"m{s}")) for s in seqs)


async def _until_seq(batches: list[Batch], seq: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while seq not in _seqs(batches):
        assert time.monotonic() < deadline, f"seq {seq} not delivered; got {_seqs(batches)}"
        await asyncio.sleep(0.01)


async def test_file_tail_reopens_a_truncated_deleted_or_rotated_file_without_duplicates(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(_lines(*range(10)))
    source = FileTailSource(path, poll_s=0.01)
    batches: list[Batch] = []

    async def consume() -> None:
        async for batch in source:
            batches.append(batch)

    task = asyncio.create_task(consume())
    try:
        await _until_seq(batches, 9)
        with open(path, "r+b") as f:  # `: > events.jsonl`, then the engine appends on
            f.truncate(0)
        with open(path, "ab") as f:
            f.write(_lines(10, 11))
        await _until_seq(batches, 11)
        path.unlink()  # deleted and recreated, repeating old events: none may come twice
        path.write_bytes(_lines(*range(4), 12))
        await _until_seq(batches, 12)
        path.rename(tmp_path / "events.jsonl.1")  # rotated away, a new file started
        path.write_bytes(_lines(13, 14))
        await _until_seq(batches, 14)
    finally:
        source.close()
        await asyncio.wait_for(task, 10)
    assert _seqs(batches) == list(range(15))


async def test_file_tail_says_once_when_the_engine_dies_without_a_final_status(tmp_path: Path):
    run_dir = tmp_path / "mnist" / "killed"
    run_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    status = make_event(0, "status", t=1.0, state="running", reason=None, step=3)
    (run_dir / "events.jsonl").write_bytes(encode(status))
    source = FileTailSource(run_dir / "events.jsonl", poll_s=0.01, liveness_s=0.05)
    session = RunSession(str(run_dir), "killed", source, run_dir=run_dir)
    batches: list[Batch] = []

    async def consume() -> None:
        async for batch in source:
            session.apply(batch)
            batches.append(batch)

    task = asyncio.create_task(consume())
    try:
        await _until_seq(batches, 0)
        await asyncio.sleep(0.3)  # the lock is held: alive, nothing to say
        assert not any(b.engine_gone for b in batches) and session.state.status == "running"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        deadline = time.monotonic() + 10
        while not any(b.engine_gone for b in batches):
            assert time.monotonic() < deadline, "the dead engine was never reported"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
    finally:
        source.close()
        await asyncio.wait_for(task, 10)
    assert sum(b.engine_gone for b in batches) == 1
    assert session.state.status == "dead" == scan_runs(tmp_path)[0].state


async def test_a_launched_engine_killed_without_a_final_status_is_dead():
    running = encode(make_event(0, "status", t=1.0, state="running", reason=None, step=1)).decode()
    script = f"import os, sys; sys.stdout.write({running!r}); sys.stdout.flush(); os.kill(os.getpid(), 9)"
    source = SubprocessSource([sys.executable, "-c", script])
    session = RunSession("launch-1", "launch-1", source, launched=True)
    async for batch in source:
        session.apply(batch)
    assert session.returncode == -signal.SIGKILL and session.state.step == 1
    assert session.state.status == "dead"


def _slurm_run(root: Path, run_id: str, job_id: str, status: str | None = None) -> Path:
    """A Slurm run dir; with ``status``, one status event and a lock nobody holds (the engine is not here)."""
    run_dir = root / "mnist" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "slurm_job").write_text(f"{job_id}\n")
    if status:
        (run_dir / "events.jsonl").write_bytes(encode(make_event(0, "status", t=1.0, state=status, step=3)))
        (run_dir / "lock").write_text("1\n")
    return run_dir


async def _follow(run_dir: Path, seconds: float) -> tuple[list[Batch], RunSession]:
    source = FileTailSource(run_dir / "events.jsonl", poll_s=0.01, liveness_s=0.05)
    session = RunSession(str(run_dir), run_dir.name, source, run_dir=run_dir)
    asyncio.get_running_loop().call_later(seconds, source.close)
    batches = await _collect(source, timeout=seconds + 10)  # ends once closed
    for batch in batches:
        session.apply(batch)
    return batches, session


async def test_a_followed_slurm_run_says_what_slurm_says_where_its_engine_is_not_seen(fake_slurm, tmp_path: Path):
    fake_slurm.answer("pending")
    batches, session = await _follow(_slurm_run(tmp_path, "queued", "3"), 0.5)  # no events yet
    assert [b.status for b in batches if b.status] == [("pending", "Slurm job 3 PENDING (Priority)")]
    assert (session.state.status, session.state.reason) == ("pending", "Slurm job 3 PENDING (Priority)")
    assert fake_slurm.calls() == ["show job --oneliner 3"]  # asked once in 0.5 s, not at every poll
    batches, session = await _follow(_slurm_run(tmp_path, "elsewhere", "1", "running"), 0.5)
    assert not any(b.engine_gone or b.status for b in batches) and session.state.status == "running"
    fake_slurm.answer("node_fail")
    batches, session = await _follow(_slurm_run(tmp_path, "crashed", "5", "running"), 0.5)
    assert [b.status for b in batches if b.status] == [("failed", "Slurm job 5 NODE_FAIL (NodeDown)")]
    assert not any(b.engine_gone for b in batches)
    assert (session.state.status, session.state.reason) == ("failed", "Slurm job 5 NODE_FAIL (NodeDown)")
