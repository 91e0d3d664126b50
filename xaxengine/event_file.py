"""The run's ``events.jsonl`` on disk: the engine's appender and the readers' follower (no jax).

Writer: one ``write`` per whole line on an ``O_APPEND`` descriptor, ``fsync`` after ``status`` events; opening for a
resume first cuts a partial last line (a write cut short by a full disk or a kill) so the next line does not glue
onto it, and reports how many bytes went; a file deleted or replaced under a live engine (log rotation, ``rm``) is
noticed within :data:`CHECK_EVERY_S` and recreated, with a warning. The engine's file keeps a reserve beside it
(``.events-reserve``, :data:`ENGINE_RESERVE_BYTES` of zeros): the first write that finds the disk full deletes it
and writes into the space it frees, so the lines that say how the run ended (``checkpoint_failed``, the final
``status``) still land on a disk something else filled; :attr:`EventFile.reserve_used` then tells the writer to end
the run.

Reader: :class:`FollowedFile` reads a file from the start and follows it; when it shrinks below the offset already
read (``: > events.jsonl``) or its path names another file (rotation, deleted and recreated) it reads again from
the start, and the :class:`~xaxengine.protocol.LineReader`'s ``seq`` filter drops what was already delivered.
"""

import errno
import os
import time
from pathlib import Path
from typing import IO, Self

from xaxengine.protocol import Event, LineReader
from xaxengine.runs import RUN_FILE_MODE

CHECK_EVERY_S = 1.0
ENGINE_RESERVE_BYTES = 256 * 1024  # about a thousand event lines
RESERVE_FILE = ".events-reserve"
_TAIL_SCAN = 1 << 16


def cut_partial_line(path: Path) -> int:
    """Truncates the file after its last newline; returns the bytes cut (0 when it ends in one, or is empty)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        size = os.fstat(fd).st_size
        end = size
        while end > 0:
            start = max(0, end - _TAIL_SCAN)
            block = os.pread(fd, end - start, start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        else:
            keep = 0
        if keep < size:
            os.ftruncate(fd, keep)
            os.fsync(fd)
        return size - keep
    finally:
        os.close(fd)


class EventFile:
    """``events.jsonl`` opened for appending by the engine (see the module docstring).

    Attributes:
        path: The file.
        cut_bytes: Bytes of a partial last line removed on open.
        recreated: How many times the file had to be recreated since.
    """

    def __init__(self, path: Path, reserve_bytes: int = 0) -> None:
        """Opens ``path`` for appending (creating it with :data:`RUN_FILE_MODE`), after cutting a partial last line.

        ``reserve_bytes`` > 0 writes a reserve of that size beside it (best effort: none on a disk already full).
        """
        self.path = Path(path)
        self.cut_bytes = cut_partial_line(self.path)
        self.recreated = 0
        self.reserve_used = False
        self._fd = -1
        self._identity = (0, 0)
        self._checked = 0.0
        self._open()
        self._reserve = self.path.with_name(RESERVE_FILE) if reserve_bytes > 0 else None
        if self._reserve is not None:
            try:
                self._reserve.write_bytes(bytes(reserve_bytes))
            except OSError:
                self._drop_reserve()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, RUN_FILE_MODE)
        os.fchmod(self._fd, RUN_FILE_MODE)
        st = os.fstat(self._fd)
        self._identity = (st.st_ino, st.st_dev)
        self._checked = time.monotonic()

    def reopen_if_replaced(self) -> str | None:
        """Recreates the file when its path no longer names the file we write; returns a warning then."""
        self._checked = time.monotonic()
        try:
            st = os.stat(self.path)
            if (st.st_ino, st.st_dev) == self._identity:
                return None
            what = "was replaced"
        except FileNotFoundError:
            what = "was deleted or moved away"
        os.close(self._fd)
        self._open()
        self.recreated += 1
        return f"{self.path} {what} while the engine was writing it; recreated it (events before this one are gone)"

    def write_line(self, line: bytes, durable: bool = False) -> str | None:
        """Appends one whole line (``fsync`` when ``durable``); returns a warning when the file had to be recreated.

        Raises:
            OSError: When the line cannot be written (a full disk, a read-only file system).
        """
        warning = self.reopen_if_replaced() if time.monotonic() - self._checked > CHECK_EVERY_S else None
        view = memoryview(line)
        while view:  # a regular file takes the whole line at once; loop only in case a short write happens
            try:
                view = view[os.write(self._fd, view) :]
            except OSError as error:
                if error.errno != errno.ENOSPC or not self._drop_reserve():
                    raise
                self.reserve_used = True  # the rest of the line goes into the space the reserve held
        if durable:
            os.fsync(self._fd)
        return warning

    def _drop_reserve(self) -> bool:
        """Deletes the reserve; True if there was one."""
        reserve, self._reserve = self._reserve, None
        if reserve is None:
            return False
        try:
            reserve.unlink()
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Closes the file (and deletes the reserve)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._drop_reserve()

    def __enter__(self) -> Self:
        """Context manager: closes on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Closes the file."""
        self.close()


class FollowedFile:
    """An events file read from the start and followed as it grows, surviving truncation and replacement."""

    def __init__(self, path: Path, reader: LineReader) -> None:
        """Opens ``path``.

        Raises:
            FileNotFoundError: When it does not exist.
        """
        self.path = Path(path)
        self.reader = reader
        self.handle: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed in close)
        self.reopened = 0

    def read(self, size: int = 1 << 20) -> list[Event] | None:
        """The new complete events in the next ``size`` bytes; None at the end of the file."""
        chunk = self.handle.read(size)
        return self.reader.feed(chunk) if chunk else None

    def check(self) -> bool:
        """At the end of the file: reopens it from the start when it was truncated or replaced (returns True)."""
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False  # deleted: its engine recreates it; until then there is nothing new to read
        mine = os.fstat(self.handle.fileno())
        if (named.st_ino, named.st_dev) != (mine.st_ino, mine.st_dev):
            self.handle.close()
            self.handle = open(self.path, "rb")  # noqa: SIM115 (closed in close)
        elif named.st_size < self.handle.tell():
            self.handle.seek(0)
        else:
            return False
        self.reader.pending = b""  # the partial line of the old contents never gets its end
        self.reopened += 1
        return True

    def close(self) -> None:
        """Closes the file."""
        self.handle.close()
