"""The event bus: numbers events, writes the JSONL stream synchronously and fans out to slower backends.

Protocol events are the typed log records: a backend (TensorBoard, stdout, W&B) receives the same dicts the TUI
reads, so every backend sees exactly what the events file holds. Slow backends run on a writer thread behind a
queue, so they never stall a training step. The same thread runs deferred jobs (PNG encoding, histograms, PLY
files) submitted by the log methods, so heavy payloads are encoded off the training thread too.
"""

import collections
import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from xaxengine.protocol import Event, EventWriter
from xaxengine.threads import lower_this_thread

logger = logging.getLogger(__name__)


class LoggerBackend(Protocol):
    """A consumer of protocol events."""

    def write(self, event: Event) -> None:
        """Handles one event (called on the writer thread)."""
        ...

    def close(self) -> None:
        """Flushes and releases resources."""
        ...


def system_scalars(event: Event) -> dict[str, float]:
    """Flattens a ``stats`` event into scalar names (without the ``system/`` prefix) and values.

    Returns:
        ``cpu_percent``, ``rss_mb``, ``mem_percent``, ``cpu_core/NN`` per core and ``gpuI/KEY`` per GPU, leaving
        out missing values.
    """
    scalars: dict[str, float | None] = {
        "cpu_percent": event.get("cpu_percent"),
        "rss_mb": None if event.get("rss_bytes") is None else event["rss_bytes"] / 2**20,
        "mem_percent": event.get("mem_percent"),
    }
    for i, load in enumerate(event.get("cpu_per_core") or []):
        scalars[f"cpu_core/{i:02d}"] = load
    for gpu in event.get("gpus") or []:
        for key in ("util_percent", "mem_used_bytes", "temp_c", "power_w"):
            scalars[f"gpu{gpu['index']}/{key}"] = gpu.get(key)
    return {name: float(value) for name, value in scalars.items() if value is not None}


class _Stop:
    """Queue sentinel: the writer thread exits when it reads this."""


_STOP = _Stop()
_Item = Event | Callable[[], object] | threading.Event | _Stop


class EventBus:
    """Thread-safe event emitter in front of the JSONL writer and the other backends.

    A backend that raises is logged once (with its traceback) and keeps receiving events; the failure count is
    reported when the bus closes. The writer thread never dies from a backend or job exception.
    """

    def __init__(self, writer: EventWriter, backends: list[LoggerBackend] | None = None) -> None:
        """Creates a bus and starts its writer thread.

        Args:
            writer: The JSONL writer (events file, and stdout with ``--events -``); written synchronously.
            backends: Other backends, fed from a queue on the writer thread.
        """
        self.writer = writer
        self.backends = list(backends or [])
        self.failures: dict[int, int] = {}
        self.lock = threading.Lock()
        self.queue: queue.Queue[_Item] = queue.Queue()
        self.closed = False
        self.inline: collections.deque[Event] = collections.deque()
        self.thread: threading.Thread | None = threading.Thread(target=self._drain, name="xax-logger", daemon=True)
        self.thread.start()

    def emit(self, kind: str, **fields: object) -> Event:
        """Writes an event to the JSONL stream now and queues it for the other backends.

        Backends receive events in submission order: an event emitted by a deferred job reaches them right after
        that job (before anything queued behind the job), so a histogram or image logged at step 10 precedes the
        step-20 scalars even when its encoding finished after they were written to the JSONL stream.
        """
        with self.lock:
            event = self.writer.emit(kind, **fields)
            if self.thread is None or not self.backends:
                return event
            if threading.current_thread() is self.thread:
                self.inline.append(event)
            else:
                self.queue.put(event)
        return event

    def submit(self, job: Callable[[], object]) -> None:
        """Runs ``job`` on the writer thread (heavy encoding that ends in :meth:`emit`); inline once closed."""
        if self.thread is None:
            self._run_job(job)
        else:
            self.queue.put(job)

    def flush(self, timeout: float = 30.0) -> bool:
        """Blocks until every job and event queued so far has been handled; returns False on timeout."""
        if self.thread is None or threading.current_thread() is self.thread:
            return True
        done = threading.Event()
        self.queue.put(done)
        return done.wait(timeout)

    def _drain(self) -> None:
        lower_this_thread()
        stopping = False
        while True:
            if stopping:
                try:  # after the stop sentinel, handle what jobs queued behind it, then exit
                    item = self.queue.get_nowait()
                except queue.Empty:
                    return
            else:
                item = self.queue.get()
            if isinstance(item, _Stop):
                stopping = True
            elif isinstance(item, threading.Event):
                item.set()
            elif isinstance(item, dict):
                self._fan_out(item)
            else:
                self._run_job(item)
            while self.inline:  # events emitted on this thread (by a job or a backend's log line), in order
                self._fan_out(self.inline.popleft())

    def _run_job(self, job: Callable[[], object]) -> None:
        try:
            job()
        except Exception:
            logger.exception("a deferred log job failed")

    def _fan_out(self, event: Event) -> None:
        for backend in self.backends:
            try:
                backend.write(event)
            except Exception:
                count = self.failures.get(id(backend), 0)
                self.failures[id(backend)] = count + 1
                if count == 0:
                    logger.exception(
                        "logger backend %s failed on a %s event (further failures are counted, not logged)",
                        type(backend).__name__,
                        event.get("kind"),
                    )

    def close(self, timeout: float = 60.0) -> None:
        """Drains the queue and closes every backend; safe to call twice (e.g. from ``atexit``)."""
        if self.closed:
            return
        self.closed = True
        thread = self.thread
        if thread is not None:
            self.queue.put(_STOP)
            if thread is not threading.current_thread():
                thread.join(timeout=timeout)
            with self.lock:
                self.thread = None
        for backend in self.backends:
            try:
                backend.close()
            except Exception:
                logger.exception("closing logger backend %s failed", type(backend).__name__)
            failures = self.failures.get(id(backend), 0)
            if failures > 1:
                logger.warning("logger backend %s failed on %d events in all", type(backend).__name__, failures)
