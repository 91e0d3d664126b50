"""The event bus: numbers events, writes the JSONL stream synchronously and fans out to slower backends.

Protocol events are the typed log records: a backend (TensorBoard, stdout, W&B) receives the same dicts the TUI
reads, so every backend sees exactly what the events file holds. Slow backends run on a writer thread behind a
queue, so they never stall a training step.
"""

import logging
import queue
import threading
from typing import Protocol

from xaxengine.protocol import Event, EventWriter

logger = logging.getLogger(__name__)


class LoggerBackend(Protocol):
    """A consumer of protocol events."""

    def write(self, event: Event) -> None:
        """Handles one event (called on the writer thread)."""
        ...

    def close(self) -> None:
        """Flushes and releases resources."""
        ...


_STOP = object()


class EventBus:
    """Thread-safe event emitter in front of the JSONL writer and the other backends."""

    def __init__(self, writer: EventWriter, backends: list[LoggerBackend] | None = None) -> None:
        """Creates a bus and starts its writer thread if there are backends.

        Args:
            writer: The JSONL writer (events file, and stdout with ``--events -``); written synchronously.
            backends: Other backends, fed from a queue on a writer thread.
        """
        self.writer = writer
        self.backends = list(backends or [])
        self.lock = threading.Lock()
        self.queue: queue.Queue[object] = queue.Queue()
        self.thread: threading.Thread | None = None
        if self.backends:
            self.thread = threading.Thread(target=self._drain, name="xax-logger", daemon=True)
            self.thread.start()

    def emit(self, kind: str, **fields: object) -> Event:
        """Writes an event to the JSONL stream now and queues it for the other backends."""
        with self.lock:
            event = self.writer.emit(kind, **fields)
        if self.thread is not None:
            self.queue.put(event)
        return event

    def flush(self, timeout: float = 30.0) -> None:
        """Blocks until the backends have handled every event queued so far."""
        if self.thread is None:
            return
        done = threading.Event()
        self.queue.put(done)
        done.wait(timeout)

    def _drain(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            for backend in self.backends:
                try:
                    backend.write(item)  # ty: ignore[invalid-argument-type]
                except Exception:
                    logger.exception("logger backend %s failed", type(backend).__name__)

    def close(self) -> None:
        """Drains the queue and closes every backend."""
        if self.thread is not None:
            self.queue.put(_STOP)
            self.thread.join(timeout=60)
            self.thread = None
        for backend in self.backends:
            try:
                backend.close()
            except Exception:
                logger.exception("closing logger backend %s failed", type(backend).__name__)
