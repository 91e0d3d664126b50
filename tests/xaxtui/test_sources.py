"""Event sources: file tail (partial lines, garbage), commands (stderr as logs, reconnect with --from-seq)."""

import asyncio
import sys
from pathlib import Path

from xaxengine.protocol import LineReader, encode, make_event
from xaxtui.sources import Batch, CommandSource, EventSource, FileTailSource, stderr_level


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
