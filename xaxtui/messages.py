"""What screens and workers post, and the app handles with ``@on(...)``: screens never import or call the app.

Requests bubble from a screen to the app. :class:`RunUpdated` goes the other way (the app posts it to the screens
on the stack) and does not bubble.
"""

from collections.abc import Callable, Sequence
from pathlib import Path

from textual.message import Message

from xaxtui.catalog import RunInfo
from xaxtui.remote import RemoteHost
from xaxtui.session import RunSession
from xaxtui.sources import EventSource


class LaunchRequested(Message):
    """Start ``xaxengine run`` on ``task`` (on ``host`` over ssh when given, else here into ``runs_dir``)."""

    def __init__(self, task: Path, overrides: list[str], runs_dir: Path, host: RemoteHost | None = None) -> None:
        super().__init__()
        self.task = task
        self.overrides = overrides
        self.runs_dir = runs_dir
        self.host = host


class StopRequested(Message):
    """Stop a run gracefully (checkpoint, then exit)."""

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session


class CheckpointRequested(Message):
    """Ask a run's engine for a checkpoint now."""

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session


class ResumeRequested(Message):
    """Resume a stopped or dead run in its directory and follow it in the same session."""

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session


class OpenRunRequested(Message):
    """Open the run view of one run (a local run dir or a listed run, local or remote)."""

    def __init__(self, run: Path | RunInfo) -> None:
        super().__init__()
        self.run = run


class CompareRequested(Message):
    """Open several runs on shared charts (the first is the main run)."""

    def __init__(self, runs: Sequence[Path | RunInfo]) -> None:
        super().__init__()
        self.runs = list(runs)


class ShowRunsRequested(Message):
    """Show the run picker (unless it is already on top)."""


class ShowSweepsRequested(Message):
    """Show the list of sweeps under the runs dir."""


class OpenSweepRequested(Message):
    """Open the sweep view of one sweep folder (``RUNS_DIR/sweeps/<sweep_id>``)."""

    def __init__(self, sweep_dir: Path) -> None:
        super().__init__()
        self.sweep_dir = sweep_dir


class OpenLaunchRequested(Message):
    """Open the launch screen for a task file."""

    def __init__(self, task: Path) -> None:
        super().__init__()
        self.task = task


class EditConfigRequested(Message):
    """Open the config editor on a task file (to edit it, then launch)."""

    def __init__(self, task: Path) -> None:
        super().__init__()
        self.task = task


class AddRemoteRequested(Message):
    """List the runs of another ssh host too (``[user@]host[:port][:/path/to/runs]``)."""

    def __init__(self, spec: str) -> None:
        super().__init__()
        self.spec = spec


class RemotesChanged(Message, bubble=False):
    """A host was added to the listed ones (posted by the app to the screens; the picker rescans)."""


class RunUpdated(Message, bubble=False):
    """New events were folded into ``session`` (posted by the app to the screens; redraw, throttled)."""

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session


class SourceReady(Message):
    """A source's thread left batches in its channel (posted from that thread; the app folds them)."""

    def __init__(self, key: str, source: EventSource) -> None:
        super().__init__()
        self.key = key
        self.source = source


class BlockingDone(Message):
    """A blocking call made off the UI thread finished; ``then`` runs its outcome on the UI thread."""

    def __init__(self, then: Callable[[], None]) -> None:
        super().__init__()
        self.then = then
