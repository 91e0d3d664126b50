"""The ``xax-tui`` app: wiring only. Screens post requests (:mod:`xaxtui.messages`), the session manager acts.

One data path: a source's thread decodes into its channel and posts :class:`SourceReady`; the handler folds what
waits (:meth:`SessionManager.deliver`) and posts one :class:`RunUpdated` to the screens, which redraw (throttled).
"""

from collections.abc import Callable, Sequence
from pathlib import Path

from textual import on, work
from textual.app import App

from xaxtui import graphics
from xaxtui.catalog import RunInfo
from xaxtui.cli_args import parse_args
from xaxtui.commands import ActionCommands
from xaxtui.keys import bindings
from xaxtui.messages import (
    AddRemoteRequested,
    BlockingDone,
    CheckpointRequested,
    CompareRequested,
    EditConfigRequested,
    LaunchRequested,
    OpenLaunchRequested,
    OpenRunRequested,
    OpenSweepRequested,
    RemotesChanged,
    ResumeRequested,
    RunUpdated,
    ShowRunsRequested,
    ShowSweepsRequested,
    SourceReady,
    StopRequested,
)
from xaxtui.remote import RemoteError, RemoteHost
from xaxtui.screens.base import key_scope
from xaxtui.screens.dialogs import QuitScreen, StoppingScreen
from xaxtui.screens.help import HelpScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.waiting import WaitingScreen
from xaxtui.session import RunSession
from xaxtui.sessions import Continuation, SessionManager, Severity, runs_dir_for
from xaxtui.sources import EventSource


class XaxTui(App[None]):
    """Opens a runs dir (picker), a run dir (run view) or a task file (config editor)."""

    CSS_PATH = "app.tcss"
    TITLE = "xax-tui"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {ActionCommands}

    def __init__(
        self,
        target: Path | None = None,
        runs_dir: Path | None = None,
        remotes: Sequence[RemoteHost] = (),
        remote_cmd: str | None = None,
    ) -> None:
        """Creates the app.

        Args:
            target: A runs dir, a run dir (with ``events.jsonl``) or a task ``.toml``.
            runs_dir: Where launched runs go and the picker looks (default: from ``target`` or the environment).
            remotes: Hosts whose runs the picker lists too (``--remote``).
            remote_cmd: The engine command on hosts added later with ``a`` (``--remote-cmd``); None: each host's
                default (``$XAX_REMOTE_ENGINE`` or ``xaxengine``).
        """
        super().__init__()
        self.target = target
        self.manager = SessionManager(self, runs_dir or runs_dir_for(target), remotes, remote_cmd)

    @property
    def runs_dir(self) -> Path:
        """Where launched runs go and the picker looks."""
        return self.manager.runs_dir

    @property
    def remotes(self) -> list[RemoteHost]:
        """The ssh hosts the picker lists."""
        return self.manager.remotes

    def on_mount(self) -> None:
        """Opens the first screen for the target."""
        target = self.target
        if target is not None and target.suffix == ".toml":
            from xaxtui.screens.config import ConfigScreen  # imported when first shown: a fast first paint

            self.push_screen(ConfigScreen(target))
        elif target is not None and (target / "events.jsonl").exists():
            self.show_runs([target])
        elif target is not None and not target.exists():
            self.push_screen(WaitingScreen(target))
        else:
            self.push_screen(PickerScreen(self.runs_dir, self.remotes))

    def on_unmount(self) -> None:
        """Ends the source threads (a blocked or polling reader would outlive the app otherwise)."""
        self.manager.close_all()

    def notice(self, text: str, severity: Severity = "information", timeout: float | None = None) -> None:
        """Shows a toast."""
        self.notify(text, severity=severity, timeout=timeout)

    def wake_source(self, key: str, source: EventSource) -> None:
        """Called from a source's thread: batches wait in its channel."""
        self.post_message(SourceReady(key, source))

    def run_blocking(self, call: Callable[[], Continuation]) -> None:
        """Runs ``call`` in a worker thread; its continuation comes back as a :class:`BlockingDone`."""
        self._blocking(call)

    @work(thread=True, exit_on_error=False, group="engine")
    def _blocking(self, call: Callable[[], Continuation]) -> None:
        self.post_message(BlockingDone(call()))

    @on(BlockingDone)
    def _blocking_done(self, message: BlockingDone) -> None:
        message.then()

    @on(SourceReady)
    def _source_ready(self, message: SourceReady) -> None:
        if (session := self.manager.deliver(message.key, message.source)) is not None:
            for screen in self.screen_stack:
                screen.post_message(RunUpdated(session))

    def attach_remote(self, host: RemoteHost, run: str) -> RunSession:
        """The session of a remote run (see :meth:`SessionManager.attach_remote`)."""
        return self.manager.attach_remote(host, run)

    def add_remote(self, spec: str, remote_cmd: str | None = None) -> RemoteHost:
        """Adds an ssh host to the listed ones (raises RemoteError when malformed)."""
        return self.manager.add_remote(spec, remote_cmd)

    def show_runs(self, runs: Sequence[Path | RunInfo]) -> None:
        """Opens the run view of one run, or of several on shared charts."""
        from xaxtui.screens.run import RunScreen  # imported when first shown: a fast first paint

        self.push_screen(RunScreen([self.manager.attach(r) for r in runs]))

    def launch(self, task: Path, overrides: list[str], runs_dir: Path) -> RunSession:
        """Starts the engine here on ``task`` and opens its run view."""
        session = self.manager.launch(task, overrides, runs_dir)
        from xaxtui.screens.run import RunScreen  # imported when first shown: a fast first paint

        self.push_screen(RunScreen([session]))
        return session

    def open_launch(self, task: Path) -> None:
        """Opens the launch screen for a task file."""
        from xaxtui.screens.launch import LaunchScreen  # imported when first shown: a fast first paint

        self.push_screen(LaunchScreen(task, self.runs_dir, self.remotes))

    @on(LaunchRequested)
    def _launch_requested(self, message: LaunchRequested) -> None:
        if message.host is None:
            self.launch(message.task, message.overrides, message.runs_dir)
        else:
            from xaxtui.screens.run import RunScreen  # imported when first shown: a fast first paint

            self.push_screen(RunScreen([self.manager.launch_remote(message.host, message.task, message.overrides)]))

    @on(StopRequested)
    def _stop_requested(self, message: StopRequested) -> None:
        self.manager.stop(message.session)

    @on(CheckpointRequested)
    def _checkpoint_requested(self, message: CheckpointRequested) -> None:
        self.manager.checkpoint(message.session)

    @on(ResumeRequested)
    def _resume_requested(self, message: ResumeRequested) -> None:
        self.manager.resume(message.session)

    @on(OpenRunRequested)
    def _open_run_requested(self, message: OpenRunRequested) -> None:
        self.show_runs([message.run])

    @on(CompareRequested)
    def _compare_requested(self, message: CompareRequested) -> None:
        self.show_runs(message.runs)

    @on(OpenLaunchRequested)
    def _open_launch_requested(self, message: OpenLaunchRequested) -> None:
        self.open_launch(message.task)

    @on(ShowRunsRequested)
    def _show_runs_requested(self) -> None:
        self.action_open_picker()

    @on(ShowSweepsRequested)
    def _show_sweeps_requested(self) -> None:
        from xaxtui.screens.sweeps import SweepsScreen  # imported when first shown: a fast first paint

        self.push_screen(SweepsScreen(self.runs_dir))

    @on(OpenSweepRequested)
    def _open_sweep_requested(self, message: OpenSweepRequested) -> None:
        from xaxtui.screens.sweep import SweepScreen  # imported when first shown: a fast first paint

        self.push_screen(SweepScreen(message.sweep_dir))

    @on(AddRemoteRequested)
    def _add_remote_requested(self, message: AddRemoteRequested) -> None:
        try:
            host = self.add_remote(message.spec)
        except RemoteError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"listing runs on {host.target.label} ...")
        for screen in self.screen_stack:
            screen.post_message(RemotesChanged())

    @on(EditConfigRequested)
    def _edit_config_requested(self, message: EditConfigRequested) -> None:
        from xaxtui.screens.config import ConfigScreen  # imported when first shown: a fast first paint

        self.push_screen(ConfigScreen(message.task))

    def action_open_picker(self) -> None:
        """Shows the run picker."""
        if not isinstance(self.screen, PickerScreen):
            self.push_screen(PickerScreen(self.runs_dir, self.remotes))

    def action_help(self) -> None:
        """Shows the keys."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_scope(self.screen)))

    async def action_quit(self) -> None:
        """Quits, asking first whether to stop or detach engines launched here."""
        live = self.manager.running_here()
        if not live:
            self.exit()
            return

        def answered(answer: str | None) -> None:
            if answer == "stop":
                self.manager.stop_all(live)
                self.push_screen(StoppingScreen(live), lambda _: self.exit())
            elif answer == "detach":
                self.exit()

        self.push_screen(QuitScreen(len(live)), answered)


def build_app(argv: list[str] | None = None) -> XaxTui:
    """Parses the ``xax-tui`` command line into an app (``main`` runs it)."""
    args = parse_args(argv)
    graphics.configure(args.graphics)  # before the app owns the terminal: ``auto`` probes it here
    return XaxTui(args.target, args.runs_dir, args.remotes, remote_cmd=args.remote_cmd)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``xax-tui``."""
    build_app(argv).run()
