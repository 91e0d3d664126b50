"""The runs the TUI watches and what it does to them: attach, launch, stop, checkpoint, resume (no textual here).

A :class:`SessionManager` owns every :class:`~xaxtui.session.RunSession` and decides what a key means for a run
(signal our own engine, or ask ``xaxengine`` locally or over ssh). It talks to the UI only through a small
:class:`Frontend`: ``notice`` shows a line, ``wake_source`` is called from a source's thread when batches wait, and
``run_blocking`` runs a blocking call (ssh, the engine CLI) off the UI thread and its continuation back on it. The
app implements it with Textual workers and messages; the unit tests with a recorder.
"""

import signal
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from xaxengine.runs import live_pid, resolve_runs_dir
from xaxtui import engine
from xaxtui.catalog import RunInfo
from xaxtui.remote import RemoteError, RemoteHost, RemoteRunInfo, RemoteTailSource, RemoteTarget
from xaxtui.session import RunSession
from xaxtui.sources import EventSource, FileTailSource, SubprocessSource
from xaxtui.state import add_log

Severity = Literal["information", "warning", "error"]
Continuation = Callable[[], None]
STILL_RUNNING = "the run is still running"


class Frontend(Protocol):
    """What the session manager needs from the UI."""

    def notice(self, text: str, severity: Severity = "information", timeout: float | None = None) -> None:
        """Shows a one-line message."""

    def wake_source(self, key: str, source: EventSource) -> None:
        """Called from ``source``'s reading thread when batches wait in its channel (hand them to the UI thread)."""

    def run_blocking(self, call: Callable[[], Continuation]) -> None:
        """Runs ``call`` in a thread, then the continuation it returns on the UI thread."""


def default_runs_dir() -> Path:
    """The engine's runs-dir rule: a non-empty ``$XAX_RUNS_DIR``, else ``./runs``."""
    return resolve_runs_dir()


def runs_dir_for(target: Path | None) -> Path:
    """The runs dir implied by the app's target.

    A run dir's grandparent (also of a run dir not made yet), a runs dir itself, else the default.
    """
    if target is None or target.suffix == ".toml":
        return default_runs_dir()
    if (target / "events.jsonl").exists() or not target.exists():  # a run dir, or one waited for
        return target.parent.parent
    return target


class SessionManager:
    """Every watched run, keyed by :attr:`RunSession.key`, and the commands on them.

    Attributes:
        sessions: The open sessions.
        runs_dir: Where local launches go and the picker looks.
        remotes: The ssh hosts the picker lists (shared with the screens that show them, so additions appear).
        remote_cmd: The engine command for hosts added later (None: each host's default).
    """

    def __init__(
        self,
        frontend: Frontend,
        runs_dir: Path,
        remotes: Sequence[RemoteHost] = (),
        remote_cmd: str | None = None,
    ) -> None:
        """Creates a manager with no sessions."""
        self.frontend = frontend
        self.runs_dir = runs_dir
        self.remotes: list[RemoteHost] = list(remotes)
        self.remote_cmd = remote_cmd
        self.sessions: dict[str, RunSession] = {}
        self._launches = 0

    # -- opening sessions ------------------------------------------------------------------------------------

    def attach(self, run: Path | RunInfo) -> RunSession:
        """The session of a run, following its ``events.jsonl`` locally or over ssh (reuses an open one)."""
        if isinstance(run, RemoteRunInfo) and run.remote is not None:
            return self.attach_remote(run.remote, run.run_dir.as_posix())
        run_dir = run.run_dir if isinstance(run, RunInfo) else run
        for session in self.sessions.values():
            if (
                session.remote is None
                and session.run_dir is not None
                and session.run_dir.resolve() == run_dir.resolve()
            ):
                return session
        session = RunSession(str(run_dir), run_dir.name, FileTailSource(run_dir / "events.jsonl"), run_dir=run_dir)
        return self._open(session)

    def attach_remote(self, host: RemoteHost, run: str) -> RunSession:
        """The session of a remote run (its dir or id on ``host``), tailed over ssh (reuses an open one)."""
        key = f"{host.target.label}:{run}"
        for session in self.sessions.values():
            if session.key == key or (session.remote is host and session.run_dir and session.run_dir.as_posix() == run):
                return session
        session = RunSession(key, Path(run).name, RemoteTailSource(host, run), run_dir=Path(run), remote=host)
        session.link = "connecting"
        return self._open(session)

    def add_remote(self, spec: str, remote_cmd: str | None = None) -> RemoteHost:
        """Adds a ``[user@]host[:port][:/path]`` to the listed hosts.

        Raises:
            RemoteError: When ``spec`` is malformed.
        """
        host = RemoteHost(RemoteTarget.parse(spec))
        if remote_cmd or self.remote_cmd:
            host.remote_cmd = remote_cmd or self.remote_cmd or host.remote_cmd
        self.remotes.append(host)
        return host

    def launch(self, task: Path, overrides: list[str], runs_dir: Path) -> RunSession:
        """Starts ``xaxengine run TASK OVERRIDES --runs-dir D --events -`` in a subprocess and follows its pipe."""
        self._launches += 1
        source = SubprocessSource(engine.run_argv(task, overrides, runs_dir))
        name = f"launch-{self._launches}"
        session = RunSession(name, name, source, launched=True)
        add_log(session.state, 0.0, "info", "$ " + " ".join(source.command(0)))
        return self._open(session)

    def launch_remote(self, host: RemoteHost, task: Path, overrides: list[str]) -> RunSession:
        """Copies ``task`` to ``host``, starts ``xaxengine run`` there detached, and follows it over ssh."""
        source = RemoteTailSource.launch(host, task.read_bytes(), overrides)
        key = f"{host.target.label}:launch:{source.run}"
        session = RunSession(key, source.run, source, launched=True, remote=host, link="connecting")
        add_log(session.state, 0.0, "info", f"$ ssh {host.target.label} {host.engine_line(*source.start or [])}")
        return self._open(session)

    def _open(self, session: RunSession) -> RunSession:
        self.sessions[session.key] = session
        self._start(session)
        return session

    def _start(self, session: RunSession) -> None:
        """Starts the session's source thread; its batches wake the frontend, which calls :meth:`deliver`."""
        key, source = session.key, session.source
        session.channel = source.start_reading(lambda: self.frontend.wake_source(key, source))

    # -- the data path ---------------------------------------------------------------------------------------

    def deliver(self, key: str, source: EventSource) -> RunSession | None:
        """Folds every batch waiting from ``source`` into its session (UI thread); the session, or None if stale.

        Batches of a source the session no longer follows (replaced by a resume) are dropped. A change of the
        remote link (lost, reconnecting, back) becomes a notice.
        """
        session = self.sessions.get(key)
        if session is None or session.source is not source or session.channel is None:
            return None
        try:
            for batch in session.channel.drain():
                link = session.link
                session.apply(batch)
                if notice := session.link_notice(link):
                    self.frontend.notice(notice[0], notice[1], timeout=10)
        finally:
            session.channel.done()
        return session

    # -- commands --------------------------------------------------------------------------------------------

    def stop(self, session: RunSession) -> None:
        """Graceful stop: SIGTERM to our engine, else ``xaxengine stop RUN_DIR`` (over ssh for a remote run)."""
        self._control(
            session, "stop", signal.SIGTERM, "stopping: SIGTERM sent (checkpoint, then exit)", "nothing to stop"
        )

    def checkpoint(self, session: RunSession) -> None:
        """Checkpoint now: SIGUSR1 to our engine, else ``xaxengine checkpoint RUN_DIR`` (over ssh when remote)."""
        self._control(session, "checkpoint", signal.SIGUSR1, "checkpoint requested", "the run is not running")

    def _control(self, session: RunSession, command: str, signum: int, sent: str, idle: str) -> None:
        """Signals the engine this app launched, else runs ``xaxengine COMMAND RUN_DIR`` (remotely when remote)."""
        run_dir = None if session.state.finished else session.run_dir
        if session.remote is not None and run_dir is not None:
            self._engine_call(command, run_dir, session.remote)
        elif session.process_alive:
            session.signal(signum)
            self.frontend.notice(sent)
        elif run_dir is not None:
            self._engine_call(command, run_dir)
        else:
            self.frontend.notice(idle, "warning")

    def _engine_call(self, what: str, run_dir: Path, remote: RemoteHost | None = None) -> None:
        """``xaxengine stop|checkpoint RUN_DIR`` (locally or on ``remote``) off the UI thread; notices the outcome."""

        def call() -> Continuation:
            where = f" on {remote.target.label}" if remote else ""
            try:
                if remote is None:
                    engine.call(what, str(run_dir))
                else:
                    remote.control(what, run_dir.as_posix())
            except (engine.EngineError, RemoteError) as error:
                return partial(self.frontend.notice, f"{what} failed: {error}", "error")
            return partial(self.frontend.notice, f"{what}: sent to {run_dir.name}{where}")

        self.frontend.run_blocking(call)

    def resume(self, session: RunSession) -> None:
        """``xaxengine resume RUN_DIR --events -`` in the same session (the fold continues after its last seq).

        Refused while an engine runs the run: ours, one holding the local lock, or (asked over ssh first) one
        holding the lock on the run's host.
        """
        if session.process_alive or self.held_elsewhere(session):
            self.frontend.notice(STILL_RUNNING, "warning")
            return
        if session.run_dir is None or session.state.status == "finished":
            self.frontend.notice("nothing to resume", "warning")
            return
        if session.remote is not None and not session.launched and not session.state.finished:
            self._check_remote_lock(session)  # its engine may still be training on the host, or may have died
            return
        self._start_resume(session)

    def _check_remote_lock(self, session: RunSession) -> None:
        """Asks the host whether an engine holds the run (``xaxengine ls --json``); resumes when none does."""
        host, run_dir = session.remote, session.run_dir
        assert host is not None and run_dir is not None

        def call() -> Continuation:
            try:
                runs = host.list_runs()
            except RemoteError as error:
                return partial(self.frontend.notice, f"resume: {error}", "error")
            wanted = run_dir.as_posix()
            alive = any(r.alive for r in runs if r.run_dir.as_posix() == wanted or r.run_id == wanted)
            return partial(self._after_remote_lock, session.key, alive)

        self.frontend.run_blocking(call)

    def _after_remote_lock(self, key: str, alive: bool) -> None:
        session = self.sessions.get(key)
        if session is None:
            return
        if alive:
            self.frontend.notice(STILL_RUNNING, "warning")
        else:
            self._start_resume(session)

    def _start_resume(self, session: RunSession) -> None:
        """``xaxengine resume RUN_DIR`` (detached on the host for a remote run), followed in the same session."""
        assert session.run_dir is not None
        session.source.close()
        if session.channel is not None:
            session.channel.close()
        if session.remote is not None:
            run = session.run_dir.as_posix()
            session.source = RemoteTailSource(
                session.remote, run, after_seq=session.state.last_seq, start=["resume", run]
            )
            where = f" on {session.remote.target.label}"
        else:
            session.source = SubprocessSource(engine.resume_argv(session.run_dir))
            session.source.reader.last_seq = session.state.last_seq
            where = ""
        session.launched, session.ended = True, False
        self._start(session)
        self.frontend.notice(f"resuming {session.label}{where}")

    @staticmethod
    def held_elsewhere(session: RunSession) -> bool:
        """Whether an engine this app did not start holds a local run's lock (a dead one's run can be resumed).

        A kernel flock dies with its holder, so the lock is the truth. Remote runs are asked about over ssh.
        """
        if session.launched or session.state.finished or not session.state.events or session.remote is not None:
            return False
        return session.run_dir is not None and live_pid(session.run_dir) is not None

    # -- quitting --------------------------------------------------------------------------------------------

    def running_here(self) -> list[RunSession]:
        """Sessions whose engine this app launched and that still run (quitting asks about them)."""
        return [s for s in self.sessions.values() if s.process_alive]

    def close_all(self) -> None:
        """Stops every source thread (engines launched here keep running: closing their pipe detaches)."""
        for session in self.sessions.values():
            session.source.close()
            if session.channel is not None:
                session.channel.close()

    def stop_all(self, sessions: Sequence[RunSession]) -> None:
        """SIGTERM to each of ``sessions``' engines (each checkpoints, then exits)."""
        for session in sessions:
            session.signal(signal.SIGTERM)
