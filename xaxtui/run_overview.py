"""What the run overview shows, without a UI: the facts ``run_start`` records, and the failure from ``stdout.log``.

The engine's ``run_start`` carries ``host``, ``pid``, ``git`` (``{commit, dirty}`` or null outside git),
``versions`` (python and the installed jax stack), ``devices``, ``layout`` and ``slurm``; a field the event does
not have reads ``unknown``. A failed run's engine appends the traceback to ``RUN_DIR/stdout.log`` (the trainer's and
the script runner's failure path); :func:`read_stdout` reads the file's tail, locally or over ssh (``tail -c`` on the
host), and says in one line why when it cannot.
"""

import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from xaxengine.runs import STDOUT_FILE
from xaxtui.remote import RemoteError, RemoteHost
from xaxtui.session import RunSession
from xaxtui.state import RunState

UNKNOWN = "unknown"
VERSIONS = ("python", "jax", "jaxlib", "equinox", "optax", "orbax-checkpoint")  # what the engine records
STDOUT_TAIL_BYTES = 1 << 18  # the traceback is at the end; a long log is read from here on
MAX_LINES = 400  # of a traceback shown (the first line and the last ones)
LAST_LINES = 30  # of stdout.log shown when it holds no traceback
TRACEBACK_START = "Traceback (most recent call last):"
FAILED_STATES = frozenset({"failed", "dead"})
MISSING = "xax-no-such-stdout-log"  # what the remote check says of a missing file


@dataclass(frozen=True)
class StdoutLog:
    """The tail of a run's ``stdout.log``, or why it could not be read.

    Attributes:
        where: The file (``gpu1:/runs/x/stdout.log`` for a remote run).
        text: The tail read (starting at a whole line), None when the file could not be read.
        problem: One line saying why not (empty when read).
    """

    where: str
    text: str | None
    problem: str = ""

    def failure(self) -> tuple[str, str]:
        """``(title, body)`` to show: the last traceback, else the last lines, else the one-line problem."""
        if self.text is None:
            return f"{STDOUT_FILE}: {self.problem}", ""
        lines = self.text.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(TRACEBACK_START)]
        if starts:
            block = lines[starts[-1] :]
            if len(block) > MAX_LINES:  # a deep recursion: its head line and the frames nearest the exception
                block = [block[0], f"  … {len(block) - MAX_LINES} lines left out …", *block[-(MAX_LINES - 1) :]]
            return f"traceback from {self.where}", "\n".join(block)
        if not lines:
            return f"{self.where} is empty", ""
        return f"no traceback in {self.where}; its last lines", "\n".join(lines[-LAST_LINES:])


def run_dir_of(session: RunSession) -> str | None:
    """The run's directory (on its host for a remote run): the session's, else the one ``run_start`` names."""
    if session.run_dir is not None:
        return session.run_dir.as_posix()
    named = session.state.run_start.get("run_dir")
    return str(named) if named else None


def read_stdout(session: RunSession, max_bytes: int = STDOUT_TAIL_BYTES) -> StdoutLog:
    """The tail of the run's ``stdout.log``; blocking (ssh for a remote run): call it off the UI thread."""
    run_dir = run_dir_of(session)
    if run_dir is None:
        return StdoutLog(STDOUT_FILE, None, "run dir unknown (no run_start yet)")
    if session.remote is not None:
        return read_remote(session.remote, f"{run_dir.rstrip('/')}/{STDOUT_FILE}", max_bytes)
    return read_local(Path(run_dir) / STDOUT_FILE, max_bytes)


def read_local(path: Path, max_bytes: int = STDOUT_TAIL_BYTES) -> StdoutLog:
    """The last ``max_bytes`` of a local file (from its first whole line), or why not."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - max_bytes))
            data = f.read(max_bytes)
    except FileNotFoundError:
        return StdoutLog(str(path), None, f"not found ({path})")
    except OSError as error:
        return StdoutLog(str(path), None, f"cannot read {path}: {error.strerror or error}")
    return StdoutLog(str(path), _whole_lines(data, size > max_bytes))


def read_remote(host: RemoteHost, path: str, max_bytes: int = STDOUT_TAIL_BYTES) -> StdoutLog:
    """The last ``max_bytes`` of a file on ``host`` (``tail -c`` over ssh), or why not, in one line."""
    where = f"{host.target.label}:{path}"
    quoted = shlex.quote(path)
    line = f"test -e {quoted} || {{ echo {MISSING} >&2; exit 3; }}; wc -c < {quoted}; tail -c {max_bytes} -- {quoted}"
    try:
        out = host.run(line, timeout=30.0)
    except RemoteError as error:
        said = " ".join(str(error).split())  # one line
        return StdoutLog(where, None, f"not found ({where})" if said.endswith(MISSING) else said)
    size_text, _, body = out.partition("\n")
    size = int(size_text.strip()) if size_text.strip().isdigit() else 0
    return StdoutLog(where, _whole_lines(body.encode(), size > max_bytes))


def _whole_lines(data: bytes, cut: bool) -> str:
    """Decoded text, without a first line the tail cut in two."""
    if cut:
        data = data.partition(b"\n")[2]
    return data.decode(errors="replace")


def _text(value: object) -> str:
    return UNKNOWN if value is None or value == "" else str(value)


def status_text(state: RunState) -> str:
    """``failed at step 3: ValueError: boom`` (the latest status, its step and reason)."""
    text = f"{state.status} at step {state.step}"
    return f"{text}: {state.reason}" if state.reason else text


def git_text(git: object) -> str:
    """``0123456789ab (dirty)``, or ``unknown`` (not recorded, or the run was not started in a git checkout)."""
    if not isinstance(git, dict) or not git.get("commit"):
        return UNKNOWN
    return str(git["commit"])[:12] + (" (dirty)" if git.get("dirty") else "")


def versions_text(versions: object) -> str:
    """``python 3.12.1 · jax 0.12.1 · ...``: the usual ones (``unknown`` when not recorded), then any others."""
    got = versions if isinstance(versions, dict) else {}
    names = [*VERSIONS, *(k for k in got if k not in VERSIONS)]
    return " · ".join(f"{name} {_text(got.get(name))}" for name in names)


def devices_text(devices: object, layout: object) -> str:
    """``cpu:0, cpu:1 (layout multi_device)``; a long list is cut after 8 devices with the count."""
    if not isinstance(devices, list) or not devices:
        shown = UNKNOWN
    else:
        names = [str(d) for d in devices]
        shown = ", ".join(names[:8]) + (f", … ({len(names)} devices)" if len(names) > 8 else "")
    return f"{shown} (layout {_text(layout)})"


def slurm_text(slurm: object) -> str | None:
    """``job 12 on node[1-2], 4 tasks`` for a Slurm run, None for another."""
    if not isinstance(slurm, dict):
        return None
    return f"job {_text(slurm.get('job_id'))} on {_text(slurm.get('nodelist'))}, {_text(slurm.get('ntasks'))} tasks"


def started_text(state: RunState) -> str:
    """The first event's wall time (``2026-11-25 06:00:00``), ``unknown`` before any."""
    if math.isnan(state.first_t):
        return UNKNOWN
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.first_t))


def facts(session: RunSession) -> list[tuple[str, str]]:
    """The overview's ``(name, value)`` rows for ``session``'s run; every missing field reads ``unknown``."""
    state = session.state
    start = state.run_start
    pid = start.get("pid")
    host = _text(start.get("host")) + (f" (pid {pid})" if pid else "")
    run_dir = run_dir_of(session)
    where = f"{session.remote.target.label}:{run_dir}" if session.remote is not None and run_dir else run_dir
    rows = [
        ("status", status_text(state)),
        ("host", host),
        ("git", git_text(start.get("git"))),
        ("devices", devices_text(start.get("devices"), start.get("layout"))),
        ("versions", versions_text(start.get("versions"))),
        ("started", started_text(state)),
        ("run dir", _text(where)),
    ]
    if (slurm := slurm_text(start.get("slurm"))) is not None:
        rows.insert(4, ("slurm", slurm))
    if start.get("resumed_from_step") is not None:
        rows.append(("resumed", f"from step {start['resumed_from_step']}"))
    return rows


def config_rows(config: dict[str, object], query: str = "") -> list[tuple[str, str]]:
    """``(dotted key, value)`` of every flattened config entry whose key or value contains ``query`` (any case)."""
    rows = [(key, config_value(value)) for key, value in config.items()]
    want = query.strip().lower()
    return [row for row in rows if not want or want in row[0].lower() or want in row[1].lower()]


def config_value(value: object) -> str:
    """A config value in full (floats exactly as recorded, ``true``/``false``, ``null`` for none)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
