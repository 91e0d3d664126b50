"""Device prefetch: a thread takes the next batches from the pipeline and puts them on the devices while steps run.

Without it the training loop itself takes each batch off Grain's queue (unpickling, mapping the worker's shared
memory) and transfers it, and that host time is the loop's ``data`` time even when the workers keep up: on 2 CPU
cores with a 30 ms step and one worker, about 3 ms a step, ``data_wait_frac`` 0.10-0.16 with the workers idle half
the time (``bench/data_pipeline.py``). The thread keeps :data:`DEPTH` placed batches ready, in order (one producer,
a FIFO queue), so when the pipeline keeps up the loop's wait is a queue pop. What the producer raises is re-raised
by the :meth:`DevicePrefetch.get` that would have returned its batch, so a bad example still fails the run with its
one line, at the step it belongs to. The loader's saved position counts only the batches handed out, never the ones
waiting in the queue, so resume is unchanged.
"""

import queue
import threading
from collections.abc import Callable
from typing import cast

DEPTH = 2  # placed batches waiting for the loop (the device memory of two more batches)
_POLL_S = 0.1


class DevicePrefetch[T]:
    """Calls ``produce`` on a thread, keeping up to :data:`DEPTH` results ready for :meth:`get`."""

    def __init__(self, produce: Callable[[], T], depth: int = DEPTH, name: str = "xax-prefetch") -> None:
        """Starts the thread (it runs at normal priority: it feeds the step).

        Args:
            produce: Returns the next item (a placed batch); called only on the thread, one call at a time.
            depth: Items produced ahead of :meth:`get`.
            name: The thread's name (``thread_cpu_seconds`` reports its CPU time under it).
        """
        self._produce = produce
        self._queue: queue.Queue[tuple[T | None, BaseException | None]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item: tuple[T | None, BaseException | None] = (self._produce(), None)
            except BaseException as error:  # handed to the loop, which fails the run with it; the thread ends
                item = (None, error)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=_POLL_S)
                    break
                except queue.Full:
                    continue
            if item[1] is not None:
                return

    def get(self) -> T:
        """The next item, in production order; re-raises what ``produce`` raised in its place."""
        if self._error is not None:
            raise self._error
        while True:
            try:
                item, error = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the data prefetch thread ended without a batch") from None
        if error is not None:
            self._error = error
            raise error
        return cast(T, item)  # None only alongside an error

    def close(self, timeout_s: float = 5.0) -> None:
        """Stops the thread (waiting up to ``timeout_s`` for a batch in production) and drops the ready items."""
        self._stop.set()
        self._drain()
        self._thread.join(timeout_s)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
