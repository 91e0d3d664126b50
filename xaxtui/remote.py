"""The SSH transport: list, tail, control and launch runs on another host through the system ``ssh`` client.

Only ``xaxengine`` is needed remotely. Every call is ``ssh OPTIONS HOST 'REMOTE_CMD arg ...'`` with each argument
``shlex.quote``d, so the user's ``~/.ssh/config``, agent, keys and jump hosts apply. ``BatchMode=yes`` means no
prompts: a missing key fails at once, and :func:`classify` turns ssh's exit status and stderr into one clear line.
Launched engines run detached (``setsid nohup``) and never depend on the connection.
"""

import os
import posixpath
import re
import secrets
import shlex
import subprocess
import time
from dataclasses import dataclass, field

import orjson

from xaxengine.catalog import RunInfo
from xaxtui.sources import Batch, CommandSource, Emit, Verdict

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3")
LAUNCH_DIR = ".xax-launch"
_SPEC = re.compile(
    r"^(?:(?P<user>[^@\s/:\[\]]+)@)?(?P<host>\[[0-9A-Fa-f:.%a-z]+\]|[A-Za-z0-9_.\-]+)"
    r"(?::(?P<port>\d{1,5}))?(?::(?P<path>.+))?$"
)
_UNREACHABLE = ("connection refused", "no route to host", "could not resolve hostname", "name or service not known")
_UNREACHABLE += ("timed out", "network is unreachable", "connection reset", "connection closed by")
_UNREACHABLE += ("not responding", "closed by remote host", "broken pipe", "connection to ")  # mid-session drops
_AUTH = ("permission denied (", "too many authentication failures", "no more authentication methods")
_HOST_KEY = ("host key verification failed", "remote host identification has changed")


class RemoteError(RuntimeError):
    """A remote call failed; the message is one line for the user."""


@dataclass(frozen=True)
class RemoteTarget:
    """Where remote runs live: ``[user@]host[:port][:/path/to/runs]``.

    Attributes:
        host: Host name or address (an ``ssh_config`` alias works).
        user: Login name (ssh's default when None).
        port: SSH port (ssh's default when None).
        runs_dir: The remote runs root (the remote ``$XAX_RUNS_DIR`` or ``~/runs`` when None).
    """

    host: str
    user: str | None = None
    port: int | None = None
    runs_dir: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "RemoteTarget":
        """Parses ``[user@]host[:port][:/path/to/runs]`` (``host:runs`` is a path, ``host:2222`` a port).

        Raises:
            RemoteError: When ``spec`` is not of that form.
        """
        match = _SPEC.match(spec.strip())
        if not match or not (0 < int(match["port"] or 22) < 65536):
            raise RemoteError(f"bad remote {spec!r}: expected [user@]host[:port][:/path/to/runs]")
        host = match["host"].strip("[]")
        return cls(host, match["user"], int(match["port"]) if match["port"] else None, match["path"])

    @property
    def destination(self) -> str:
        """``user@host`` or ``host``, as ssh takes it."""
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def label(self) -> str:
        """A short name for titles and keys (``user@host:port``)."""
        return self.destination + (f":{self.port}" if self.port else "")


def classify(returncode: int | None, stderr: str, host: str, remote_cmd: str = "xaxengine") -> str:
    """Turns a failed ssh call into one line: unreachable, auth, engine not found, run not found, permission.

    Args:
        returncode: Exit status of ``ssh`` (255: ssh itself failed; else the remote command's status).
        stderr: What ssh and the remote command wrote on stderr.
        host: The target's label.
        remote_cmd: The remote engine command, for the "not found" advice.
    """
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    low = stderr.lower()
    last = lines[-1] if lines else f"exit status {returncode}"
    program = shlex.split(remote_cmd)[-1] if remote_cmd.strip() else "xaxengine"
    denied = next((ln for ln in reversed(lines) if "permission denied" in ln.lower() or "errno 13" in ln.lower()), last)
    ssh_failed = returncode == 255
    rules = (
        (ssh_failed and any(s in low for s in _UNREACHABLE), f"host unreachable: {host}: {last.removeprefix('ssh: ')}"),
        (
            ssh_failed and any(s in low for s in _AUTH),
            f"auth failed: {host} refused our ssh keys (BatchMode: no password prompts); load the key into ssh-agent "
            "or set IdentityFile in ~/.ssh/config",
        ),
        (
            ssh_failed and any(s in low for s in _HOST_KEY),
            f"host key of {host} is not trusted: run plain `ssh {host}` once to check and accept it",
        ),
        (
            returncode == 127 or "command not found" in low or (program in stderr and "no such file" in low),
            f"{program!r} not found on {host} (remote PATH of a non-interactive shell): set the remote command with "
            "--remote-cmd /path/to/venv/bin/xaxengine or $XAX_REMOTE_ENGINE",
        ),
        ("permission denied" in low or "errno 13" in low, f"permission denied on {host}: {denied}"),
        ("not found" in low and "run" in low, f"run not found on {host}: {last.removeprefix('xaxengine: error: ')}"),
    )
    return next((message for hit, message in rules if hit), f"{host}: {last}")


@dataclass
class RemoteRunInfo(RunInfo):
    """A run listed on a remote host (its ``run_dir`` is a path on that host)."""

    remote: "RemoteHost | None" = None

    @property
    def key(self) -> str:
        """``user@host:port:/remote/run/dir``, distinct from local runs."""
        label = self.remote.target.label if self.remote else "?"
        return f"{label}:{self.run_dir.as_posix()}"


@dataclass
class Launched:
    """A detached remote engine: where its runs dir, log and exit status are."""

    runs_dir: str
    log_path: str
    exit_path: str


@dataclass
class RemoteHost:
    """One remote host: builds ssh command lines and runs engine calls there.

    Attributes:
        target: Where and which runs dir.
        remote_cmd: The engine command as the remote shell sees it (``--remote-cmd``, ``$XAX_REMOTE_ENGINE``).
        ssh_options: Extra ssh arguments (``$XAX_SSH_OPTS``), e.g. ``-i KEY``.
        connect_timeout: ssh ``ConnectTimeout`` in seconds.
        ssh: The ssh client program.
    """

    target: RemoteTarget
    remote_cmd: str = field(default_factory=lambda: os.environ.get("XAX_REMOTE_ENGINE") or "xaxengine")
    ssh_options: tuple[str, ...] = field(default_factory=lambda: tuple(shlex.split(os.environ.get("XAX_SSH_OPTS", ""))))
    connect_timeout: int = 10
    ssh: str = "ssh"

    def ssh_argv(self, command: str) -> list[str]:
        """``ssh -o BatchMode=yes ... [-p PORT] -- DEST COMMAND`` (``command`` is one remote shell line)."""
        argv = [self.ssh, *SSH_OPTIONS, "-o", f"ConnectTimeout={self.connect_timeout}", "-o", "LogLevel=ERROR"]
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        return [*argv, *self.ssh_options, "--", self.target.destination, command]

    def engine_line(self, *args: str) -> str:
        """``REMOTE_CMD 'arg' ...``: the remote command as given, every argument quoted."""
        return " ".join([self.remote_cmd, *(shlex.quote(a) for a in args)])

    def runs_args(self) -> list[str]:
        """``--runs-dir D`` when the target names one."""
        return ["--runs-dir", self.target.runs_dir] if self.target.runs_dir else []

    def run(self, line: str, data: bytes | None = None, timeout: float = 60.0) -> str:
        """Runs one remote shell line and returns its stdout.

        Raises:
            RemoteError: With a :func:`classify` message when it fails.
        """
        try:
            done = subprocess.run(self.ssh_argv(line), input=data, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RemoteError(f"host unreachable: {self.target.label}: {error}") from None
        if done.returncode != 0:
            raise RemoteError(self.classify(done.returncode, done.stderr.decode(errors="replace")))
        return done.stdout.decode(errors="replace")

    def classify(self, returncode: int, stderr: str) -> str:
        """:func:`classify` for this host."""
        return classify(returncode, stderr, self.target.label, self.remote_cmd)

    def call(self, *args: str, timeout: float = 60.0) -> str:
        """``xaxengine ARGS`` on the host; returns stdout."""
        return self.run(self.engine_line(*args), timeout=timeout)

    def list_runs(self) -> list[RemoteRunInfo]:
        """``xaxengine ls --json`` on the host, newest first."""
        try:
            rows = orjson.loads(self.call("ls", "--json", *self.runs_args()))
        except orjson.JSONDecodeError as error:
            raise RemoteError(f"{self.target.label}: `xaxengine ls --json` printed no JSON ({error})") from None
        if not isinstance(rows, list):
            raise RemoteError(f"{self.target.label}: `xaxengine ls --json` printed no list of runs")
        runs = []
        for row in (r for r in rows if isinstance(r, dict)):
            info = RemoteRunInfo.from_dict(row, remote=self)
            info.task = f"{self.target.label} {info.task}"
            runs.append(info)
        return sorted(runs, key=lambda r: r.started_t, reverse=True)

    def control(self, what: str, run_dir: str) -> str:
        """``xaxengine stop|checkpoint RUN_DIR`` on the host."""
        return self.call(what, run_dir, timeout=30.0).strip()

    def _root(self, runs_dir: str | None) -> str:
        if runs_dir is None:
            return '"${XAX_RUNS_DIR:-runs}"'
        if runs_dir == "~" or runs_dir.startswith("~/"):
            return '"$HOME"' + shlex.quote(runs_dir[1:]) if len(runs_dir) > 1 else '"$HOME"'
        return shlex.quote(runs_dir)

    def start_detached(self, args: list[str], tag: str, runs_dir: str | None, toml: bytes | None = None) -> Launched:
        """Starts ``xaxengine ARGS`` detached on the host (``setsid nohup``); its exit status goes to a file.

        ``{toml}`` and ``{runs}`` in ``args`` become the copied task file and the absolute runs dir.

        Args:
            args: Engine arguments.
            tag: Names the files under ``RUNS/.xax-launch/`` (``TAG.toml``, ``TAG.log``, ``TAG.exit``).
            runs_dir: The remote runs root (the remote default when None).
            toml: Task file contents to copy first (``cat >`` over the same ssh call).
        """
        base = f'"$1"/{LAUNCH_DIR}/{shlex.quote(tag)}'
        words = [{"{toml}": base + ".toml", "{runs}": '"$1"'}.get(a, shlex.quote(a)) for a in args]
        inner = f"{self.remote_cmd} {' '.join(words)} >{base}.log 2>&1; echo $? >{base}.tmp; mv {base}.tmp {base}.exit"
        script = "\n".join(
            [
                "set -e",
                f"R={self._root(runs_dir)}",
                f'mkdir -p -- "$R"/{LAUNCH_DIR}',
                'R=$(cd -- "$R" && pwd)',
                f'cat > "$R"/{LAUNCH_DIR}/{shlex.quote(tag)}.toml' if toml is not None else "true",
                "S=$(command -v setsid || true)",
                f'$S nohup sh -c {shlex.quote(inner)} xax "$R" </dev/null >/dev/null 2>&1 &',
                'echo "$R"',
            ]
        )
        root = self.run(script, data=toml if toml is not None else b"", timeout=30.0).strip().splitlines()[-1]
        stem = posixpath.join(root, LAUNCH_DIR, tag)
        return Launched(root, stem + ".log", stem + ".exit")

    def exit_status(self, launched: Launched) -> tuple[int | None, str]:
        """The detached engine's exit status (None while it runs) and the last lines of its log."""
        line = f"cat {shlex.quote(launched.exit_path)} 2>/dev/null; echo; tail -n 3 {shlex.quote(launched.log_path)}"
        text = self.run(line, timeout=30.0)
        first, _, rest = text.partition("\n")
        return (int(first) if first.strip().isdigit() else None), rest.strip()


class RemoteTailSource(CommandSource):
    """``ssh HOST xaxengine tail RUN --follow --from-seq N``, reconnecting with backoff when the link drops.

    With ``start`` it first starts an engine detached on the host (a launch or a resume) and follows that run; the
    engine's exit status, read from its exit file, ends the source as ``returncode``.
    """

    def __init__(
        self,
        host: RemoteHost,
        run: str,
        *,
        after_seq: int = -1,
        start: list[str] | None = None,
        toml: bytes | None = None,
        retry_s: float = 0.5,
        max_retry_s: float = 15.0,
    ) -> None:
        """Creates the source (nothing runs until iteration starts).

        Args:
            host: The remote host.
            run: Run directory on the host, or a run id under its runs dir.
            after_seq: Only events with a greater ``seq`` are delivered.
            start: Engine arguments to start detached first (``{toml}``/``{runs}`` placeholders allowed).
            toml: Task file contents copied for ``start``.
            retry_s: First reconnect delay.
            max_retry_s: Longest reconnect delay.
        """
        self.host = host
        self.run = run
        self.start = start
        self.toml = toml
        self.launched: Launched | None = None
        self._lost = False
        super().__init__(self._argv, reconnect=True, retry_s=retry_s, max_retry_s=max_retry_s, after_seq=after_seq)
        self.label = f"{host.target.label}: tail {run}"

    @classmethod
    def launch(cls, host: RemoteHost, toml: bytes, overrides: list[str]) -> "RemoteTailSource":
        """A source that copies ``toml`` to ``host``, starts ``xaxengine run`` there detached, and follows it."""
        run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        start = ["run", "{toml}", *overrides, "--runs-dir", "{runs}", "--run-id", run_id]
        return cls(host, run_id, start=start, toml=toml)

    def _argv(self, from_seq: int) -> list[str]:
        runs = ["--runs-dir", self.launched.runs_dir] if self.launched else self.host.runs_args()
        args = ["tail", self.run, *runs, "--follow", "--from-seq", str(from_seq)]
        return self.host.ssh_argv(self.host.engine_line(*args))

    def produce(self, emit: Emit) -> None:
        """Starts the detached engine when asked to, then tails."""
        if self.start is not None:
            tag = f"{posixpath.basename(self.run.rstrip('/'))}-{time.strftime('%H%M%S')}-{os.getpid()}"
            try:
                self.launched = self.host.start_detached(self.start, tag, self.host.target.runs_dir, self.toml)
            except RemoteError as error:
                emit(Batch(logs=[("error", str(error))], link=f"lost: {error}", ended=True), False)
                return
        super().produce(emit)

    def _exit(self) -> tuple[int | None, str] | None:
        if self.launched is None:
            return None
        try:
            return self.host.exit_status(self.launched)
        except RemoteError:
            return None

    def _final_status(self) -> int | None:
        for _ in range(20):
            status = self._exit()
            if status is None or status[0] is not None:
                return status[0] if status else None
            time.sleep(0.1)
        return None

    def verdict(self, returncode: int | None, stderr: str) -> Verdict:
        """Retries dropped links (ssh 255, killed client); ends on a terminal status or a permanent error."""
        label = self.host.target.label
        if returncode is None:
            return Verdict(False, f"cannot run ssh: {stderr.strip().splitlines()[-1] if stderr.strip() else '?'}")
        if self.finished:
            return Verdict(False, returncode=self._final_status())
        if self.launched is not None and returncode in (0, 2):
            code, log = self._exit() or (None, "")
            message = self.host.classify(code, log) if code in (2, 126, 127) else f"engine on {label} exited {code}"
            return Verdict(
                code is None,
                None if code is None else f"{message}: {log}" if code not in (2, 126, 127) else message,
                code,
            )
        if returncode < 0:
            return Verdict(True)
        message = self.host.classify(returncode, stderr) if returncode else "the run's engine is gone (no final status)"
        permanent = message.startswith(("auth failed", "host key of"))  # retrying cannot fix these
        return Verdict(returncode == 255 and not permanent, message)
