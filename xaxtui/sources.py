"""Event sources: where a run's JSON lines come from (a launched engine, a local file, any command).

The blocking reads and the JSON decoding run in a daemon thread that puts :class:`Batch` objects into a bounded
:class:`BatchChannel` (``source.start_reading(wake)``, or ``async for batch in source`` for plain asyncio
consumers), so a million-line file never blocks the UI and a fast source never grows memory without bound. Garbage
lines are counted in each batch, never raised.
"""

import asyncio
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from xaxengine.catalog import engine_alive
from xaxengine.event_file import FollowedFile
from xaxengine.protocol import TERMINAL_STATES, Event, LineReader
from xaxtui.catalog import SlurmWatch
from xaxtui.channel import Batch, BatchChannel

CHUNK = 1 << 16
BATCH_EVENTS = 10_000
_LEVEL = re.compile(rb"\b(DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|Traceback)\b", re.IGNORECASE)
_LEVELS = {b"debug": "debug", b"warn": "warning", b"warning": "warning", b"error": "error", b"critical": "error"}


def terminal(state: object) -> bool:
    """Whether a status event's ``state`` ends the run (any value: a line of the wrong type must not raise)."""
    return isinstance(state, str) and state in TERMINAL_STATES


def stderr_level(line: bytes) -> str:
    """Guesses the log level of a human log line from its first keyword."""
    match = _LEVEL.search(line[:80])
    if not match:
        return "info"
    word = match.group(1).lower()
    return "error" if word == b"traceback" else _LEVELS.get(word, "info")


class Emit(Protocol):
    """Hands a batch to the consumer; with ``wait`` first blocks while the consumer is behind (bounded memory)."""

    def __call__(self, batch: "Batch", wait: bool = True, /) -> None:
        """Hands over one batch."""


@dataclass
class Verdict:
    """What a :class:`CommandSource` does after its command exits.

    Attributes:
        retry: Start the command again (from the next wanted ``seq``).
        message: A one-line error to show, if any.
        returncode: The exit status to report when the source ends (default: the command's own).
    """

    retry: bool
    message: str | None = None
    returncode: int | None = None


class EventSource:
    """Base of all sources: a thread runs :meth:`produce` and puts its batches into a :class:`BatchChannel`.

    :meth:`start_reading` runs the thread and returns the channel (the app drains it when woken); ``async for batch
    in source`` does the same for plain asyncio consumers (tests, benches).
    """

    label: str = "source"

    def __init__(self, after_seq: int = -1) -> None:
        """Creates a source.

        Args:
            after_seq: Only events with a greater ``seq`` are delivered.
        """
        self.reader = LineReader(after_seq=after_seq)
        self.closed = threading.Event()
        self._bad_reported = 0

    def produce(self, emit: Emit) -> None:
        """Reads until done or closed, calling ``emit`` for each batch (runs in a thread)."""
        raise NotImplementedError

    def take_bad(self) -> int:
        """Returns the garbage lines counted since the last call."""
        new = self.reader.bad_lines - self._bad_reported
        self._bad_reported = self.reader.bad_lines
        return new

    def close(self) -> None:
        """Asks the reading thread to stop."""
        self.closed.set()

    def start_reading(self, wake: Callable[[], object], limit: int = BATCH_EVENTS) -> BatchChannel:
        """Starts the reading thread; its batches collect in the returned channel.

        Args:
            wake: Called from the thread whenever the channel becomes non-empty (e.g. posts a message).
            limit: Undrained events at which the thread waits (see :class:`BatchChannel`).
        """
        channel = BatchChannel(wake, limit)

        def emit(batch: Batch, wait: bool = True) -> None:
            if channel.closed:
                self.closed.set()
                return
            channel.put(batch, wait)

        def run() -> None:
            try:
                self.produce(emit)
            except Exception as error:
                emit(Batch(logs=[("error", f"{self.label}: {error!r}")], ended=True), False)

        threading.Thread(target=run, name=f"xaxtui-{self.label[:40]}", daemon=True).start()
        return channel

    async def __aiter__(self) -> AsyncIterator[Batch]:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        channel = self.start_reading(lambda: loop.call_soon_threadsafe(ready.set))
        try:
            while True:
                await ready.wait()
                ready.clear()
                for batch in channel.drain():
                    yield batch
                    if batch.ended:
                        return
                channel.done()
        finally:
            channel.close()


class FileTailSource(EventSource):
    """Reads a local ``events.jsonl`` from the start, then follows it as it grows.

    A file truncated or replaced while followed (log rotation, ``: > events.jsonl``, deleted and recreated) is read
    again from the start; ``seq`` deduplication keeps every event once. When the run's engine is gone without a final
    status (the catalogue's liveness rule, asked every :attr:`liveness_s` at the end of the file) a batch with
    ``engine_gone`` says so, once per engine; for a Slurm run Slurm's word decides instead (:class:`SlurmWatch`).
    """

    def __init__(
        self,
        path: str | Path,
        follow: bool = True,
        poll_s: float = 0.05,
        chunk: int = CHUNK,
        after_seq: int = -1,
        liveness_s: float = 1.0,
    ) -> None:
        """Creates a file tail.

        Args:
            path: The events file (it may not exist yet).
            follow: Keep polling for new lines after reaching the end.
            poll_s: Seconds between polls at the end of the file.
            chunk: Bytes per read.
            after_seq: Only events with a greater ``seq`` are delivered.
            liveness_s: Seconds between asking whether the run's engine still lives (while following).
        """
        super().__init__(after_seq)
        self.path = Path(path)
        self.follow = follow
        self.poll_s = poll_s
        self.chunk = chunk
        self.liveness_s = liveness_s
        self.label = f"tail {self.path}"
        self._status: object = None
        self._start: Event = {}
        self._gone_reported = False
        self._asked = 0.0
        self.slurm = SlurmWatch(self.path.parent)

    def _note(self, events: list[Event]) -> None:
        for ev in events:
            if ev["kind"] == "status":
                self._status = ev.get("state")
                self._gone_reported = False  # a new engine (a resume) may die again
            elif ev["kind"] == "run_start":
                self._start = ev

    def _engine_gone(self) -> Batch | None:
        """The batch saying the engine is gone without a final status, or what Slurm says (asked every liveness_s)."""
        if self._gone_reported or self._status is None or terminal(self._status):
            return None
        if time.monotonic() - self._asked < self.liveness_s:
            return None
        self._asked = time.monotonic()
        alive = engine_alive(self.path.parent, self._start.get("pid"), self._start.get("host"))
        decides, said = self.slurm.news(self._status) if alive is not True else (False, None)
        if decides:
            return Batch(status=said) if said is not None else None
        self._gone_reported = alive is False
        return Batch(engine_gone=True) if self._gone_reported else None

    def _await_file(self, emit: Emit) -> None:
        """Waits one poll for the file; a Slurm job that has not written an event says what Slurm says (pending)."""
        if (said := self.slurm.news(None)[1]) is not None:
            emit(Batch(status=said))
        time.sleep(self.poll_s)

    def produce(self, emit: Emit) -> None:
        """Reads whole groups of chunks per batch while catching up, then polls."""
        f: FollowedFile | None = None
        try:
            while not self.closed.is_set():
                if f is None:
                    if not self.path.exists():
                        if not self.follow:
                            break
                        self._await_file(emit)
                        continue
                    f = FollowedFile(self.path, self.reader)
                events: list[Event] = []
                while len(events) < BATCH_EVENTS and (new := f.read(self.chunk)) is not None:
                    events.extend(new)
                self._note(events)
                if events or self.reader.bad_lines > self._bad_reported:
                    emit(Batch(events=events, bad_lines=self.take_bad()))
                elif not self.follow:
                    break
                elif f.check():
                    continue
                elif (gone := self._engine_gone()) is not None:
                    emit(gone)
                else:
                    time.sleep(self.poll_s)
        finally:
            if f is not None:
                f.close()
        emit(Batch(events=self.reader.finish() if not self.follow else [], bad_lines=self.take_bad(), ended=True))


class CommandSource(EventSource):
    """Runs a command whose stdout is JSON lines (``xaxengine tail RUN --follow``, or the same over ``ssh``).

    ``argv`` may be a function of the next wanted ``seq``: with ``reconnect`` the command is restarted after it
    dies, asking for ``--from-seq last_seq+1``, until a terminal status arrives or the source is closed. Restarts
    back off (``retry_s`` doubling up to ``max_retry_s`` while no new event arrives) and are announced with a
    ``link`` batch; the reader drops any ``seq`` already delivered, so a reconnect never duplicates an event.
    Subclasses decide what an exit means in :meth:`verdict`.
    """

    def __init__(
        self,
        argv: Sequence[str] | Callable[[int], Sequence[str]],
        *,
        reconnect: bool = False,
        retry_s: float = 1.0,
        max_retry_s: float = 15.0,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        after_seq: int = -1,
    ) -> None:
        """Creates a command source.

        Args:
            argv: The command, or a function from the first wanted ``seq`` to the command.
            reconnect: Restart the command when it exits before a terminal status.
            retry_s: Seconds to wait before the first restart.
            max_retry_s: Longest wait between restarts.
            cwd: Working directory of the command.
            env: Environment of the command (the TUI's when None).
            after_seq: Only events with a greater ``seq`` are delivered.
        """
        super().__init__(after_seq)
        self.argv = argv
        self.reconnect = reconnect
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.cwd = cwd
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.finished = False
        self.link = ""
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.label = " ".join(self.command(after_seq + 1))

    def command(self, from_seq: int) -> list[str]:
        """The command line that asks for events from ``from_seq`` on."""
        argv = self.argv
        if isinstance(argv, Sequence):
            return list(argv)
        return list(argv(from_seq))

    @property
    def alive(self) -> bool:
        """Whether the command is running."""
        return self.process is not None and self.process.poll() is None

    def send_signal(self, sig: int = signal.SIGTERM) -> bool:
        """Signals the running command; returns False when there is none."""
        if not self.alive or self.process is None:
            return False
        self.process.send_signal(sig)
        return True

    def verdict(self, returncode: int | None, stderr: str) -> Verdict:
        """Decides whether to restart after the command exited (default: when reconnecting, until terminal).

        Args:
            returncode: The command's exit status (negative: killed by a signal; None: it could not start).
            stderr: Its last stderr lines.
        """
        del stderr
        return Verdict(retry=self.reconnect and not self.finished, returncode=returncode)

    def _pump_stderr(self, stream: IO[bytes], emit: Emit) -> None:
        for line in iter(stream.readline, b""):
            text = line.rstrip(b"\r\n")
            if text:
                self.stderr_tail.append(text.decode(errors="replace"))
                emit(Batch(logs=[(stderr_level(text), text.decode(errors="replace"))]), False)

    def _run_once(self, emit: Emit) -> int:
        expected = self.reader.last_seq + 1
        argv = self.command(expected)
        self.stderr_tail.clear()
        self.process = process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
        )
        err = threading.Thread(target=self._pump_stderr, args=(process.stderr, emit), daemon=True)
        err.start()
        fd = process.stdout.fileno() if process.stdout else -1
        while data := os.read(fd, CHUNK):
            events = self.reader.feed(data)
            batch = Batch(events=events, bad_lines=self.take_bad())
            if self.link != "connected":
                self.link = batch.link = "connected"
            if events and expected > 0 and events[0]["seq"] > expected:
                batch.logs.append(("warning", f"events {expected}..{events[0]['seq'] - 1} were never received"))
            expected = self.reader.last_seq + 1
            if any(ev.get("kind") == "status" and terminal(ev.get("state")) for ev in events):
                self.finished = True
            if events or batch.bad_lines or batch.link:
                emit(batch)
        tail = self.reader.finish()
        rc = process.wait()
        err.join(timeout=1.0)
        if tail:
            emit(Batch(events=tail, bad_lines=self.take_bad()))
        return rc

    def produce(self, emit: Emit) -> None:
        """Runs the command (again, with backoff, when the verdict says so) and forwards its lines."""
        rc: int | None = None
        failures = 0
        while not self.closed.is_set():
            before = self.reader.last_seq
            try:
                rc = self._run_once(emit)
            except OSError as error:
                self.stderr_tail.append(f"cannot run {self.label}: {error}")
                rc = None
            verdict = self.verdict(rc, "\n".join(self.stderr_tail))
            if verdict.message:
                emit(Batch(logs=[("error", verdict.message)]))
            if not verdict.retry or self.closed.is_set():
                rc = verdict.returncode
                if not self.finished and verdict.message:
                    emit(Batch(link=f"lost: {verdict.message}"))
                break
            failures = 0 if self.reader.last_seq > before else failures + 1
            delay = min(self.max_retry_s, self.retry_s * 2 ** max(0, failures - 1))
            again = "reconnecting" if self.link == "connected" or self.link.startswith("re") else "connecting"
            self.link = f"{again} (attempt {failures + 1}, in {delay:.1f} s)"
            emit(Batch(logs=[("warning", f"{self.label} exited ({rc}); {self.link}")], link=self.link))
            self.closed.wait(delay)
        emit(Batch(bad_lines=self.take_bad(), ended=True, returncode=rc))

    def close(self) -> None:
        """Stops following and ends the command (a tail; engines are stopped through :class:`SubprocessSource`)."""
        super().close()
        if self.alive and self.process is not None:
            self.process.terminate()


class SubprocessSource(CommandSource):
    """The stdout pipe of an engine process the TUI launched (``xaxengine run ... --events -``).

    Closing it does not touch the engine: quitting the TUI detaches (the engine drops a broken pipe and keeps
    writing its ``events.jsonl``); stopping goes through :meth:`send_signal`.
    """

    def __init__(self, argv: Sequence[str], cwd: str | Path | None = None, env: dict[str, str] | None = None) -> None:
        """Creates the source; the engine starts when iteration starts.

        Args:
            argv: The engine command line.
            cwd: Working directory.
            env: Environment (the TUI's when None).
        """
        super().__init__(argv, reconnect=False, cwd=cwd, env=env)

    def close(self) -> None:
        """Stops reading; the engine keeps running (detach)."""
        self.closed.set()
