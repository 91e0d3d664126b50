"""The ``xax-tui`` app: wiring only (screens, sessions, workers that post event batches)."""

import argparse
import asyncio
import os
import signal
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from textual import work
from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message

from xaxengine.runs import live_pid, resolve_runs_dir
from xaxtui import engine
from xaxtui.catalog import RunInfo
from xaxtui.keys import KEYS, bindings
from xaxtui.remote import RemoteError, RemoteHost, RemoteRunInfo, RemoteTailSource, RemoteTarget
from xaxtui.screens.config import ConfigScreen
from xaxtui.screens.dialogs import PathPrompt, QuitScreen
from xaxtui.screens.help import HelpScreen
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.session import RunSession
from xaxtui.sources import Batch, EventSource, FileTailSource, SubprocessSource
from xaxtui.state import add_log

SCREEN_SCOPES = {RunScreen: "run", PickerScreen: "picker", ConfigScreen: "config", LaunchScreen: "launch"}


class SourceBatch(Message):
    """A source worker's batch; the handler folds it and sets ``done`` so the worker reads on."""

    def __init__(self, key: str, source: EventSource, batch: Batch, done: asyncio.Event) -> None:
        super().__init__()
        self.key = key
        self.source = source
        self.batch = batch
        self.done = done


class EngineNotice(Message):
    """The result of an engine CLI call made in a worker."""

    def __init__(self, text: str, error: bool = False) -> None:
        super().__init__()
        self.text = text
        self.error = error


class RemoteLockChecked(Message):
    """Whether an engine holds a remote run (from ``xaxengine ls --json`` on its host), asked before a resume."""

    def __init__(self, key: str, alive: bool) -> None:
        super().__init__()
        self.key = key
        self.alive = alive


class ActionCommands(Provider):
    """Command palette entries for every registered action of the app and the current screen."""

    def _entries(self) -> list[tuple[str, str, str]]:
        scope = SCREEN_SCOPES.get(type(self.screen), "")
        seen: set[str] = set()
        out = []
        for k in KEYS:
            if k.scope in ("app", scope) and k.action not in seen and k.action != "command_palette":
                seen.add(k.action)
                out.append((k.description, k.action, k.scope))
        return out

    async def _run(self, action: str, scope: str) -> None:
        await self.app.run_action(action, self.screen if scope != "app" else None)

    async def discover(self) -> Hits:
        """All actions, unfiltered."""
        for description, action, scope in self._entries():
            yield DiscoveryHit(description, partial(self._run, action, scope), help=action)

    async def search(self, query: str) -> Hits:
        """Actions whose description matches ``query``."""
        matcher = self.matcher(query)
        for description, action, scope in self._entries():
            if (score := matcher.match(description)) > 0:
                yield Hit(score, matcher.highlight(description), partial(self._run, action, scope), help=action)


def default_runs_dir() -> Path:
    """The engine's runs-dir rule: a non-empty ``$XAX_RUNS_DIR``, else ``./runs``."""
    return resolve_runs_dir()


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
        self.runs_dir = runs_dir or self._runs_dir_for(target)
        self.remotes: list[RemoteHost] = list(remotes)
        self.remote_cmd = remote_cmd
        self.sessions: dict[str, RunSession] = {}
        self._launches = 0

    @staticmethod
    def _runs_dir_for(target: Path | None) -> Path:
        if target is None or target.suffix == ".toml":
            return default_runs_dir()
        if (target / "events.jsonl").exists():
            return target.parent.parent
        return target

    def on_mount(self) -> None:
        """Opens the first screen for the target."""
        target = self.target
        if target is not None and target.suffix == ".toml":
            self.push_screen(ConfigScreen(target))
        elif target is not None and (target / "events.jsonl").exists():
            self.show_runs([target])
        else:
            self.push_screen(PickerScreen(self.runs_dir))

    def attach(self, run_dir: Path | RunInfo) -> RunSession:
        """The session of a run, following its ``events.jsonl`` locally or over ssh (reuses an open one)."""
        if isinstance(run_dir, RemoteRunInfo) and run_dir.remote is not None:
            return self.attach_remote(run_dir.remote, run_dir.run_dir.as_posix())
        if isinstance(run_dir, RunInfo):
            run_dir = run_dir.run_dir
        for session in self.sessions.values():
            if session.remote is not None:
                continue
            if session.run_dir is not None and session.run_dir.resolve() == run_dir.resolve():
                return session
        session = RunSession(str(run_dir), run_dir.name, FileTailSource(run_dir / "events.jsonl"), run_dir=run_dir)
        self.sessions[session.key] = session
        self.start_source(session)
        return session

    def attach_remote(self, host: RemoteHost, run: str) -> RunSession:
        """The session of a remote run (its dir or id on ``host``), tailed over ssh."""
        key = f"{host.target.label}:{run}"
        for session in self.sessions.values():
            if session.key == key or (session.remote is host and session.run_dir and session.run_dir.as_posix() == run):
                return session
        source = RemoteTailSource(host, run)
        session = RunSession(key, Path(run).name, source, run_dir=Path(run), remote=host, link="connecting")
        self.sessions[key] = session
        self.start_source(session)
        return session

    def add_remote(self, spec: str, remote_cmd: str | None = None) -> RemoteHost:
        """Adds a ``[user@]host[:port][:/path]`` to the hosts the picker lists (raises RemoteError when malformed)."""
        host = RemoteHost(RemoteTarget.parse(spec))
        if remote_cmd or self.remote_cmd:
            host.remote_cmd = remote_cmd or self.remote_cmd or host.remote_cmd
        self.remotes.append(host)
        return host

    def start_source(self, session: RunSession) -> None:
        """Starts a worker that posts the session's batches."""
        self.run_worker(self._pump(session.key, session.source), group="sources", exit_on_error=False)

    async def _pump(self, key: str, source: EventSource) -> None:
        async for batch in source:
            done = asyncio.Event()
            self.post_message(SourceBatch(key, source, batch, done))
            await done.wait()

    def on_source_batch(self, message: SourceBatch) -> None:
        """Folds a batch into its session (batches of a replaced source are dropped)."""
        try:
            session = self.sessions.get(message.key)
            if session is not None and session.source is message.source:
                link = session.link
                session.apply(message.batch)
                if notice := session.link_notice(link):
                    self.notify(notice[0], severity=notice[1], timeout=10)
        finally:
            message.done.set()

    def on_engine_notice(self, message: EngineNotice) -> None:
        """Shows the result of an engine call."""
        self.notify(message.text, severity="error" if message.error else "information")

    def show_runs(self, run_dirs: Sequence[Path | RunInfo]) -> None:
        """Opens the run view of one run, or of several on shared charts (local dirs or listed runs)."""
        self.push_screen(RunScreen([self.attach(d) for d in run_dirs]))

    def launch(self, task: Path, overrides: list[str], runs_dir: Path) -> RunSession:
        """Starts ``xaxengine run`` in a subprocess and opens its run view."""
        self._launches += 1
        source = SubprocessSource(engine.run_argv(task, overrides, runs_dir))
        session = RunSession(f"launch-{self._launches}", f"launch-{self._launches}", source, launched=True)
        add_log(session.state, 0.0, "info", "$ " + " ".join(source.command(0)))
        self.sessions[session.key] = session
        self.start_source(session)
        self.push_screen(RunScreen([session]))
        return session

    def launch_remote(self, host: RemoteHost, task: Path, overrides: list[str]) -> RunSession:
        """Copies ``task`` to ``host``, starts ``xaxengine run`` there detached, and opens its run view."""
        source = RemoteTailSource.launch(host, task.read_bytes(), overrides)
        key = f"{host.target.label}:launch:{source.run}"
        session = RunSession(key, source.run, source, launched=True, remote=host, link="connecting")
        add_log(session.state, 0.0, "info", f"$ ssh {host.target.label} {host.engine_line(*source.start or [])}")
        self.sessions[key] = session
        self.start_source(session)
        self.push_screen(RunScreen([session]))
        return session

    def stop_session(self, session: RunSession) -> None:
        """Graceful stop: SIGTERM to our engine, else ``xaxengine stop RUN_DIR`` (over ssh for a remote run)."""
        sent = "stopping: SIGTERM sent (checkpoint, then exit)"
        self._control_session(session, "stop", signal.SIGTERM, sent, "nothing to stop")

    def checkpoint_session(self, session: RunSession) -> None:
        """Checkpoint now: SIGUSR1 to our engine, else ``xaxengine checkpoint RUN_DIR`` (over ssh when remote)."""
        self._control_session(session, "checkpoint", signal.SIGUSR1, "checkpoint requested", "the run is not running")

    def _control_session(self, session: RunSession, command: str, signum: int, sent: str, idle: str) -> None:
        """Signals the engine this app launched, else runs ``xaxengine COMMAND RUN_DIR`` (remotely when remote)."""
        run_dir = None if session.state.finished else session.run_dir
        if session.remote is not None and run_dir is not None:
            self.engine_call(command, run_dir, session.remote)
        elif session.process_alive:
            session.signal(signum)
            self.notify(sent)
        elif run_dir is not None:
            self.engine_call(command, run_dir)
        else:
            self.notify(idle, severity="warning")

    def resume_session(self, session: RunSession) -> None:
        """``xaxengine resume RUN_DIR --events -`` in the same session (the fold continues after its last seq)."""
        if session.process_alive or self._held_elsewhere(session):
            self.notify("the run is still running", severity="warning")
            return
        if session.run_dir is None or session.state.status == "finished":
            self.notify("nothing to resume", severity="warning")
            return
        if session.remote is not None and not session.launched and not session.state.finished:
            self.check_remote_lock(session)  # its engine may still be training on the host, or may have died
            return
        self._start_resume(session)

    @work(thread=True, exit_on_error=False, group="engine")
    def check_remote_lock(self, session: RunSession) -> None:
        """Asks the host whether an engine holds the run (its lock); posts the answer, or the failure."""
        assert session.remote is not None and session.run_dir is not None
        try:
            runs = session.remote.list_runs()
        except RemoteError as error:
            self.post_message(EngineNotice(f"resume: {error}", error=True))
            return
        wanted = session.run_dir.as_posix()
        alive = any(r.alive for r in runs if r.run_dir.as_posix() == wanted or r.run_id == wanted)
        self.post_message(RemoteLockChecked(session.key, alive))

    def on_remote_lock_checked(self, message: RemoteLockChecked) -> None:
        """Resumes a remote run whose engine is gone; says so when one still holds it."""
        session = self.sessions.get(message.key)
        if session is None:
            return
        if message.alive:
            self.notify("the run is still running", severity="warning")
        else:
            self._start_resume(session)

    def _start_resume(self, session: RunSession) -> None:
        """``xaxengine resume RUN_DIR`` (detached on the host for a remote run), followed in the same session."""
        assert session.run_dir is not None
        session.source.close()
        if session.remote is not None:
            run = session.run_dir.as_posix()
            source = RemoteTailSource(session.remote, run, after_seq=session.state.last_seq, start=["resume", run])
            session.source, session.launched, session.ended = source, True, False
            self.start_source(session)
            self.notify(f"resuming {session.label} on {session.remote.target.label}")
            return
        session.source = SubprocessSource(engine.resume_argv(session.run_dir))
        session.source.reader.last_seq = session.state.last_seq
        session.launched, session.ended = True, False
        self.start_source(session)
        self.notify(f"resuming {session.label}")

    @staticmethod
    def _held_elsewhere(session: RunSession) -> bool:
        """Whether an engine this app did not start holds a local run's lock (a dead one's run can be resumed).

        A kernel flock dies with its holder, so the lock is the truth. Remote runs are asked about over ssh
        (:meth:`check_remote_lock`).
        """
        if session.launched or session.state.finished or not session.state.events or session.remote is not None:
            return False
        return session.run_dir is not None and live_pid(session.run_dir) is not None

    @work(thread=True, exit_on_error=False, group="engine")
    def engine_call(self, what: str, run_dir: Path, remote: RemoteHost | None = None) -> None:
        """Runs ``xaxengine stop|checkpoint RUN_DIR`` (locally or on ``remote``) in a thread; posts the outcome."""
        where = f" on {remote.target.label}" if remote else ""
        try:
            if remote is None:
                engine.call(what, str(run_dir))
            else:
                remote.control(what, run_dir.as_posix())
            self.post_message(EngineNotice(f"{what}: sent to {run_dir.name}{where}"))
        except (engine.EngineError, RemoteError) as error:
            self.post_message(EngineNotice(f"{what} failed: {error}", error=True))

    def open_launch(self, task: Path) -> None:
        """Opens the launch screen for a task file."""
        self.push_screen(LaunchScreen(task, self.runs_dir))

    def open_config_prompt(self) -> None:
        """Asks for a task file, then opens the config editor on it."""
        default = next(iter(sorted(Path("tasks").glob("*.toml"))), Path("task.toml"))

        def opened(answer: str | None) -> None:
            if answer and Path(answer).is_file():
                self.push_screen(ConfigScreen(Path(answer)))
            elif answer:
                self.notify(f"no such file: {answer}", severity="error")

        self.push_screen(PathPrompt("task file to edit and launch:", str(default)), opened)

    def action_open_picker(self) -> None:
        """Shows the run picker."""
        if not isinstance(self.screen, PickerScreen):
            self.push_screen(PickerScreen(self.runs_dir))

    def action_help(self) -> None:
        """Shows the keys."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Quits, asking first whether to stop or detach engines launched here."""
        live = [s for s in self.sessions.values() if s.process_alive]
        if not live:
            self.exit()
            return

        def answered(answer: str | None) -> None:
            if answer == "stop":
                for session in live:
                    session.signal(signal.SIGTERM)
            if answer in ("stop", "detach"):
                self.exit()

        self.push_screen(QuitScreen(len(live)), answered)


def build_app(argv: list[str] | None = None) -> XaxTui:
    """Parses the ``xax-tui`` command line into an app (``main`` runs it)."""
    parser = argparse.ArgumentParser(
        prog="xax-tui",
        description="Terminal experiment runner for xaxengine: edit task configs, launch runs, watch them live.",
        epilog="Keys: press ? inside the app. $XAX_ENGINE_CMD overrides the engine command (default xaxengine); "
        "$XAX_SSH_OPTS adds ssh options for --remote (e.g. '-i ~/.ssh/gpu_key').",
    )
    parser.add_argument("target", nargs="?", type=Path, help="a runs dir (picker), a run dir, or a task .toml")
    parser.add_argument("--runs-dir", type=Path, help="where launched runs go (default: $XAX_RUNS_DIR or ./runs)")
    parser.add_argument(
        "--remote",
        action="append",
        default=[],
        metavar="[USER@]HOST[:PORT][:/PATH/TO/RUNS]",
        help="also list the runs on this ssh host (repeatable); uses the system ssh with BatchMode",
    )
    parser.add_argument(
        "--remote-cmd",
        default=os.environ.get("XAX_REMOTE_ENGINE") or "xaxengine",
        help="the engine command on remote hosts, e.g. '~/venv/bin/xaxengine' (default: $XAX_REMOTE_ENGINE or "
        "xaxengine)",
    )
    args = parser.parse_args(argv)
    if args.target is not None and not args.target.exists():
        parser.error(f"no such file or directory: {args.target}")
    try:
        remotes = [RemoteHost(RemoteTarget.parse(spec), remote_cmd=args.remote_cmd) for spec in args.remote]
    except RemoteError as error:
        parser.error(str(error))
    return XaxTui(args.target, args.runs_dir, remotes, remote_cmd=args.remote_cmd)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``xax-tui``."""
    build_app(argv).run()
