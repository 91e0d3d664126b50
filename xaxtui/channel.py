"""What a source hands over (:class:`Batch`) and how: a bounded :class:`BatchChannel` from its thread to the UI."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from xaxengine.protocol import Event


@dataclass
class Batch:
    """What a source hands over at once.

    Attributes:
        events: New decoded events, in order.
        bad_lines: Garbage lines skipped since the previous batch.
        logs: ``(level, message)`` lines that are not events (engine stderr).
        ended: The source has nothing more to give.
        returncode: Exit status of the command, when it ended.
        link: The connection changed: ``"connected"``, ``"reconnecting ..."`` or ``"lost: ..."`` (None: unchanged).
        engine_gone: The run's engine is gone without a final status (the run is ``dead``).
        status: ``(state, reason)`` that no event says: what Slurm says of a run its engine does not run here.
    """

    events: list[Event] = field(default_factory=list)
    bad_lines: int = 0
    logs: list[tuple[str, str]] = field(default_factory=list)
    ended: bool = False
    returncode: int | None = None
    link: str | None = None
    engine_gone: bool = False
    status: tuple[str, str | None] | None = None


class BatchChannel:
    """The hand-off from a source's reading thread to the event loop, bounded so a fast source cannot outrun the UI.

    The thread puts batches in; ``wake`` is called (in that thread) each time the channel goes from empty to
    non-empty, and the consumer drains everything waiting at once (a slow consumer folds several batches per turn),
    then says :meth:`done` once it has folded them. While ``limit`` events or more wait or are being folded,
    :meth:`put` blocks the thread: memory stays bounded, and while catching up on a big file decoding and folding
    take turns instead of fighting over the GIL. Live runs' small batches never reach the limit, so they never wait.
    """

    def __init__(self, wake: Callable[[], object], limit: int) -> None:
        """Creates an empty channel.

        Args:
            wake: Called from the producing thread when the first batch of a new run of batches arrives.
            limit: Undrained events at which :meth:`put` starts to block.
        """
        self.wake = wake
        self.limit = limit
        self.closed = False
        self._batches: list[Batch] = []
        self._pending = 0  # events and log lines put and not yet done (waiting, or drained and being folded)
        self._taken = 0  # of which drained by the last drain
        self._cond = threading.Condition()

    def put(self, batch: Batch, wait: bool = True) -> None:
        """Adds a batch (producer thread); with ``wait``, then blocks while the limit is reached.

        Waiting after the hand-over (not before) keeps the thread from decoding the next batch while the consumer
        folds this one, and bounds what is held to the limit plus one batch.
        """
        with self._cond:
            if self.closed:
                return
            first = not self._batches
            self._batches.append(batch)
            self._pending += len(batch.events) + len(batch.logs)
        if first:
            try:
                self.wake()
            except RuntimeError:  # the event loop is gone (the app quit): nobody will drain
                self.close()
        with self._cond:
            while wait and self._pending >= self.limit and not self.closed:
                self._cond.wait(0.5)

    @property
    def pending(self) -> int:
        """Events and log lines put and not yet done with (waiting, or drained and being folded)."""
        with self._cond:
            return self._pending

    def drain(self) -> list[Batch]:
        """Takes every waiting batch, in order (consumer side); the previous drain counts as done."""
        with self._cond:
            self._pending -= self._taken
            batches, self._batches = self._batches, []
            self._taken = sum(len(b.events) + len(b.logs) for b in batches)
            self._cond.notify_all()
        return batches

    def done(self) -> None:
        """The consumer has folded what it drained last: a producer blocked on the limit goes on."""
        with self._cond:
            self._pending -= self._taken
            self._taken = 0
            self._cond.notify_all()

    def close(self) -> None:
        """Drops what waits and unblocks the producer for good (later batches are discarded)."""
        with self._cond:
            self.closed = True
            self._batches, self._pending, self._taken = [], 0, 0
            self._cond.notify_all()
