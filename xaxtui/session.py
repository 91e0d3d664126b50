"""A run the TUI is watching: its folded state, the source feeding it, and whether the TUI launched it."""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from xaxengine.catalog import DEAD
from xaxtui.channel import Batch, BatchChannel
from xaxtui.remote import RemoteHost
from xaxtui.sources import CommandSource, EventSource
from xaxtui.state import RunState, add_engine_line, add_log, fold


@dataclass
class RunSession:
    """One watched run.

    Attributes:
        key: Identity (the run dir, or a launch id until ``run_start`` names the dir).
        label: Short name for legends.
        source: The current event source (replaced on resume).
        state: Everything folded so far.
        run_dir: The run directory, once known.
        launched: The TUI started the engine (a local one is signalled directly and quitting asks about it).
        version: Bumped on every folded batch (a view knows which fold it drew last).
        ended: The source has ended.
        returncode: Exit status of a launched engine.
        remote: The host of a remote run (its ``run_dir`` is a path there); None for a local run.
        link: The source's connection state (``connected``, ``reconnecting ...``, ``lost: ...``; empty: local).
        channel: Where the running source's thread leaves its batches (None until started).
    """

    key: str
    label: str
    source: EventSource
    state: RunState = field(default_factory=RunState)
    run_dir: Path | None = None
    launched: bool = False
    version: int = 0
    ended: bool = False
    returncode: int | None = None
    remote: RemoteHost | None = None
    link: str = ""
    channel: BatchChannel | None = None

    @property
    def process_alive(self) -> bool:
        """Whether the engine process this TUI launched is still running."""
        return self.launched and self.remote is None and isinstance(self.source, CommandSource) and self.source.alive

    def signal(self, sig: int) -> bool:
        """Signals the engine process this TUI launched; False when there is none running."""
        return self.process_alive and isinstance(self.source, CommandSource) and self.source.send_signal(sig)

    def process_gone_without_status(self, returncode: int | None) -> bool:
        """Whether the local engine this TUI launched exited without a final status (it was killed: ``dead``)."""
        return self.launched and self.remote is None and returncode is not None and not self.state.finished

    def link_notice(self, before: str) -> tuple[str, Literal["information", "warning", "error"]] | None:
        """What to tell the user when the link changed from ``before`` (lost, reconnecting, back), if anything."""
        if self.link.startswith("reconnecting") and not before.startswith("reconnecting"):
            return f"{self.label}: connection lost, reconnecting", "warning"
        if self.link.startswith("lost:") and self.link != before:
            return f"{self.label}: {self.link.removeprefix('lost: ')}", "error"
        if self.link == "connected" and before.startswith("reconnecting"):
            return f"{self.label}: reconnected", "information"
        return None

    def _did_not_start(self, now: float) -> None:
        """Marks a launch whose engine ended before its first event as failed, saying why and what was run."""
        tail = self.source.stderr_tail if isinstance(self.source, CommandSource) else ()
        why = tail[-1] if tail else f"exited {self.returncode}"
        command = " ".join(self.source.command(0)) if isinstance(self.source, CommandSource) else ""
        self.state.status = "failed"
        self.state.reason = f"engine did not start: {why}"
        add_log(self.state, now, "error", f"engine did not start: {why} · $ {command}")

    def apply(self, batch: Batch) -> None:
        """Folds a batch from the source into the state."""
        fold(self.state, batch.events)
        self.state.bad_lines += batch.bad_lines
        if batch.engine_gone and not self.state.finished:
            self.state.status = DEAD  # the same word the picker and `xaxengine ls` use
        if batch.status is not None and not self.state.finished:
            self.state.status, self.state.reason = batch.status  # Slurm's word: pending, or failed (NODE_FAIL...)
        if batch.link is not None and self.remote is not None:
            self.link = batch.link
        now = time.time()
        for level, message in batch.logs:
            add_engine_line(self.state, now, level, message)
        if self.run_dir is None and self.state.run_start.get("run_dir"):
            self.run_dir = Path(self.state.run_start["run_dir"])
        if self.state.run_id and self.label.startswith("launch"):
            self.label = self.state.run_id
        if batch.ended:
            self.ended = True
            self.returncode = batch.returncode
            if self.launched and self.remote is None and not self.state.events:
                self._did_not_start(now)
            if self.process_gone_without_status(batch.returncode):
                self.state.status = DEAD
            if batch.returncode is not None and self.launched:
                add_log(
                    self.state, now, "info" if batch.returncode == 0 else "warning", f"engine exited {batch.returncode}"
                )
        self.version += 1
