"""The run catalogue of both halves: what a run directory says about its run, and whether its engine lives (no jax).

``xaxengine ls`` / ``ls --json``, the TUI's picker and run view all read runs here, so they give the same answer.

Reading: the head of ``events.jsonl`` gives the start time and the task; the newest ``status``, train ``scalars``
and (only where the lock cannot be asked) ``run_start`` (a resumed run has several: the last one's pid and host are
the live ones) are found by a byte search backwards over at most :data:`MAX_SCAN_BYTES` of the memory-mapped file,
decoding only the lines it hits. So the answer does not depend on how long the file is, and a long scan is cheap.
The best valid loss is the lowest over the valid lines within that bound; a scan remembers where it stopped, so the
next one of a growing file searches only the new bytes.

Liveness, one rule: the run's lock decides (the engine holds a ``flock`` from before its first event to after its
last; the kernel drops it when the process dies). Only where the lock cannot be asked (no lock file, a file system
without ``flock``) are the newest ``run_start``'s pid and host used, and only on that host. A run whose engine is gone
without a final status is :data:`DEAD`; a live one shows its latest status (``starting`` included).

A Slurm run (one with ``RUN_DIR/slurm_job``, listed even before its ``events.jsonl`` exists) carries its job's state
(:class:`~xaxengine.slurm_jobs.JobSummary`; only the job id when ``scontrol`` is missing or does not answer), and
where its engine is not seen alive here what Slurm says decides (:func:`slurm_verdict`): a queued job is
:data:`PENDING`, a running one running (its engine may hold the lock on another node), and one that ended without a
final status ``failed``, with Slurm's word as the reason (``Slurm job 12 NODE_FAIL``). This is read, never written
back into the events file. A listing asks Slurm once for all its runs (:func:`~xaxengine.slurm_jobs.job_states`).
"""

import logging
import math
import mmap
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from xaxengine.dotted import flatten
from xaxengine.protocol import TERMINAL_STATES, Event, Kind, State, decode
from xaxengine.run_info import RunInfo
from xaxengine.run_notes import read_notes
from xaxengine.runs import CONFIG_FILE, EVENTS_FILE, SLURM_JOB_FILE, RunError, lock_held, read_lock_pid
from xaxengine.slurm_jobs import ACTIVE, ENDED, WAITING, JobState, JobSummary, job_states, recorded_job

__all__ = ["DEAD", "PENDING", "RunInfo", "engine_alive", "find_run", "list_runs", "read_run_info"]

logger = logging.getLogger(__name__)

DEAD = "dead"  # not an event state: the catalogue's word for an engine gone without a final status
PENDING = "pending"  # not an event state either: a Slurm run whose job waits in the queue
HEAD_BYTES = 1 << 16
TAIL_BYTES = 1 << 16
MAX_SCAN_BYTES = 1 << 26  # bound of the backward scan (a live run's last status may be far back)
_TASK_LINE = re.compile(rb'^task\s*=\s*"([^"]+)"', re.MULTILINE)


def engine_alive(run_dir: Path, pid: object = None, host: object = None) -> bool | None:
    """The one liveness rule: the lock if it can be asked, else ``pid`` on ``host`` if that is this host.

    Returns:
        True or False, or None when nothing here can tell (no lock to ask and the engine ran on another host).
    """
    return _alive(lock_held(run_dir), pid, host)


def _alive(held: bool | None, pid: object, host: object) -> bool | None:
    if held is not None:
        return held
    if not isinstance(pid, int) or pid <= 0 or host not in (None, socket.gethostname()):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shown_state(last_status: str, alive: bool | None) -> str:
    """What a run's state is shown as: its latest status, or ``dead`` when its engine is gone without a final one."""
    if alive is False and last_status not in TERMINAL_STATES:
        return DEAD
    return last_status


def _is_status(event: Event) -> bool:
    return event["kind"] == Kind.STATUS


def _is_start(event: Event) -> bool:
    return event["kind"] == Kind.RUN_START


def _is_train(event: Event) -> bool:
    return event["kind"] == Kind.SCALARS and event.get("phase", "train") == "train"


_BEST_SEEN: dict[tuple[str, int], tuple[int, float | None]] = {}  # (path, inode) -> (bytes searched, best so far)


def _best_valid_cached(data: mmap.mmap, size: int, lo: int, key: tuple[str, int]) -> float | None:
    """:func:`_best_valid` over the bytes not searched before (all of them again when the file shrank)."""
    done, best = _BEST_SEEN.get(key, (0, None))
    if done > size:
        done, best = 0, None
    hi = data.rfind(b"\n", 0, size) + 1  # complete lines only: a partial last line is searched next time
    new = _best_valid(data, max(lo, done), hi) if hi > done else None
    best = new if best is None or (new is not None and new < best) else best
    _BEST_SEEN[key] = (max(done, hi), best)
    return best


def _best_valid(data: mmap.mmap, lo: int, hi: int) -> float | None:
    """The lowest finite valid ``loss`` in ``data[lo:hi]`` (a byte search: only the valid lines are decoded)."""
    best: float | None = None
    while (pos := data.rfind(b'"valid"', lo, hi)) >= 0:
        start, end = data.rfind(b"\n", 0, pos) + 1, data.find(b"\n", pos)
        hi = start
        event = decode(data[start:end]) if end >= 0 else None
        if event is None or event["kind"] != Kind.SCALARS or event.get("phase") != "valid":
            continue
        loss = (event.get("values") or {}).get("loss")
        if isinstance(loss, int | float) and math.isfinite(loss) and (best is None or loss < best):
            best = float(loss)
    return best


def _newest(data: mmap.mmap, needle: bytes, lo: int, hi: int, wanted: Callable[[Event], bool]) -> tuple[int, Event]:
    """The newest complete line in ``data[lo:hi]`` holding ``needle`` that decodes to a ``wanted`` event.

    A byte search from the end (no JSON parse of the lines in between), so a long scan costs little.

    Returns:
        The line's offset and its event, or ``(-1, {})`` when there is none.
    """
    while (pos := data.rfind(needle, lo, hi)) >= 0:
        start, end = data.rfind(b"\n", 0, pos) + 1, data.find(b"\n", pos)
        if end >= 0 and (event := decode(data[start:end])) is not None and wanted(event):
            return start, event
        hi = start
    return -1, {}


def _newest_event(data: mmap.mmap, size: int) -> Event:
    """The last complete line that decodes (a partial or garbage last line is skipped)."""
    return _newest(data, b"\n", max(0, size - TAIL_BYTES), size, lambda _: True)[1] if size else {}


def _head(data: mmap.mmap, size: int) -> tuple[Event, Event]:
    """The first event and the first ``run_start`` within the first :data:`HEAD_BYTES`."""
    first: Event = {}
    complete = data[: min(size, HEAD_BYTES)].rpartition(b"\n")[0]
    for line in complete.split(b"\n"):
        if line.strip() and (event := decode(line)) is not None:
            first = first or event
            if _is_start(event):
                return first, event
    return first, {}


def _task_from_config(run_dir: Path) -> str | None:
    """The ``task = "..."`` line at the top of ``config.toml`` (a run still starting has no ``run_start`` yet)."""
    try:
        with open(run_dir / CONFIG_FILE, "rb") as f:
            match = _TASK_LINE.search(f.read(4096))
    except OSError:
        return None
    return match.group(1).decode(errors="replace") if match else None


def _scan(
    data: mmap.mmap, size: int, max_scan_bytes: int, need_start: bool, key: tuple[str, int]
) -> dict[str, tuple[int, Event]]:
    """The first event and run_start, the newest event, status, train scalars and (if ``need_start``) run_start."""
    first, first_start = _head(data, size)
    lo = max(0, size - max_scan_bytes)
    found = {
        "first": (0, first),
        "first_start": (0, first_start),
        "newest": (size, _newest_event(data, size)),
        "status": _newest(data, b'"status"', lo, size, _is_status),
        "train": _newest(data, b'"train"', lo, size, _is_train),
    }
    found["start"] = _newest(data, b'"run_start"', lo, size, _is_start) if need_start else (-1, {})
    found["best"] = (0, {"loss": best} if (best := _best_valid_cached(data, size, lo, key)) is not None else {})
    return found


def slurm_verdict(job: JobSummary, last_status: str | None, alive: bool) -> tuple[str, bool, str | None] | None:
    """What Slurm's word makes of a run: its shown state, liveness and reason; None where Slurm does not decide.

    Slurm decides only where the engine is not seen alive here and Slurm knows the job: a queued job is
    :data:`PENDING`; a running one is live (its latest status, unless that is final from an earlier attempt of a
    requeued job); one that ended without a final status failed. A final status stands once the job has ended.
    """
    if alive or job.state is None:
        return None
    said = f"Slurm {job.describe()}"
    if job.state in WAITING:
        return PENDING, False, said
    if job.state in ACTIVE:
        final = last_status in TERMINAL_STATES and job.state != "COMPLETING"
        return (str(last_status) if last_status and not final else str(State.RUNNING)), True, None
    if job.state in ENDED and last_status not in TERMINAL_STATES:
        return str(State.FAILED), False, said
    return None


def read_run_info(
    run_dir: Path, max_scan_bytes: int = MAX_SCAN_BYTES, jobs: Mapping[str, JobState] | None = None
) -> RunInfo | None:
    """Summarises one run directory; None when it has no readable event and records no Slurm job.

    Args:
        run_dir: The run directory.
        max_scan_bytes: The bound of the backward scan.
        jobs: Slurm's jobs by id, asked once for a whole listing; None asks Slurm for this run's job (if it has one).

    Raises:
        OSError: When the events file exists but cannot be read.
    """
    info = _read_events(run_dir, max_scan_bytes)
    job_id = recorded_job(run_dir)
    if job_id is None:
        return info
    found = (ask_slurm([job_id]) if jobs is None else jobs).get(job_id)
    job = found.summary() if found is not None else JobSummary(job_id)
    if info is None:
        info = _queued(run_dir)
    info.slurm = job
    if (verdict := slurm_verdict(job, info.last_status, info.alive)) is not None:
        info.state, info.alive, info.reason = verdict[0], verdict[1], verdict[2] or info.reason
    return info


def ask_slurm(job_ids: Iterable[str]) -> dict[str, JobState]:
    """The jobs' states in one call; empty when Slurm cannot be asked here (no ``scontrol``, no answer)."""
    try:
        return job_states(job_ids)
    except RunError as error:
        logger.debug("Slurm states unknown: %s", error)
        return {}


def _queued(run_dir: Path) -> RunInfo:
    """A Slurm run whose engine has not written an event yet (its job pends, or just started)."""
    try:
        submitted = (run_dir / SLURM_JOB_FILE).stat().st_mtime
    except OSError:
        submitted = 0.0
    task = _task_from_config(run_dir) or run_dir.parent.name
    notes = read_notes(run_dir)
    return RunInfo(
        run_dir=run_dir,
        run_id=run_dir.name,
        task=task,
        started_t=submitted,
        updated_t=submitted,
        tags=notes.tags,
        note=notes.note,
        archived=notes.archived,
    )


def _read_events(run_dir: Path, max_scan_bytes: int) -> RunInfo | None:
    path = run_dir / EVENTS_FILE
    if not path.exists():
        return None
    held = lock_held(run_dir)
    with open(path, "rb") as f:
        stat = os.fstat(f.fileno())
        size = stat.st_size
        if size == 0:
            return None
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as data:
            key = (str(path), stat.st_ino)
            found = _scan(data, size, max_scan_bytes, need_start=held is None, key=key)  # a pid matters then only
    (_, first), (_, newest) = found["first"], found["newest"]
    (status_pos, status), (train_pos, train) = found["status"], found["train"]
    if not first and not newest:
        return None
    start = found["start"][1] or found["first_start"][1]
    fallback = State.RUNNING if train else State.STARTING  # no status within the scan: a long run is past starting
    last_status = str(status.get("state") or "unknown") if status else fallback
    stepped = status if status_pos > train_pos else train
    loss = (train.get("values") or {}).get("loss")
    pid, host = start.get("pid"), start.get("host")
    alive = _alive(held, pid, host)
    first = first or newest
    notes = read_notes(run_dir)
    config = start.get("config")
    return RunInfo(
        run_dir=run_dir,
        run_id=run_dir.name,
        task=str(start.get("task") or _task_from_config(run_dir) or run_dir.parent.name),
        state=shown_state(str(last_status), alive),
        step=int(stepped.get("step") or 0),
        last_loss=float(loss) if isinstance(loss, int | float) else None,
        started_t=float(first.get("t") or 0.0),
        updated_t=float((newest or first).get("t") or 0.0),
        pid=(read_lock_pid(run_dir) if alive and held else None) or (pid if isinstance(pid, int) else None),
        host=str(host) if host else None,
        alive=bool(alive),
        last_status=str(last_status),
        reason=str(status["reason"]) if status.get("reason") else None,
        config=flatten(config) if isinstance(config, dict) else {},
        best_valid_loss=found["best"][1].get("loss"),
        tags=notes.tags,
        note=notes.note,
        archived=notes.archived,
    )


def run_dirs(runs_dir: Path) -> set[Path]:
    """The run directories under a runs root (``<task>/<run_id>/``) or a task folder (``<run_id>/``)."""
    found: set[Path] = set()
    for child in _subdirs(str(runs_dir)):
        if _is_run_dir(child):  # runs_dir is a task folder
            found.add(Path(child))
        found.update(Path(grandchild) for grandchild in _subdirs(child) if _is_run_dir(grandchild))
    return found


def _subdirs(path: str) -> list[str]:
    """The directories directly under ``path`` (none when it is not a readable directory)."""
    try:
        with os.scandir(path) as entries:
            return [entry.path for entry in entries if entry.is_dir()]
    except OSError:
        return []


def _is_run_dir(path: str) -> bool:
    """Whether ``path`` holds an events file, or the job id file of a Slurm run still pending (it has only that).

    One ``scandir`` per directory and no pathlib glob: the picker lists a runs dir every few seconds, and globbing
    1,000 run dirs (four patterns) took longer than reading their events.
    """
    return any(os.path.lexists(os.path.join(path, name)) for name in (EVENTS_FILE, SLURM_JOB_FILE))


def list_runs(runs_dir: Path, newest_first: bool = False) -> list[RunInfo]:
    """Every readable run under ``runs_dir``, oldest first (newest first with ``newest_first``)."""
    infos = []
    dirs = run_dirs(runs_dir)
    jobs = ask_slurm(job_id for d in dirs if (job_id := recorded_job(d)) is not None)
    for run_dir in dirs:
        try:
            info = read_run_info(run_dir, jobs=jobs)
        except OSError as error:  # one unreadable run must not hide the others
            logger.warning("skipping %s: %s", run_dir, error)
            continue
        if info is not None:
            infos.append(info)
    return sorted(infos, key=lambda i: (i.started_t, i.run_id), reverse=newest_first)


def find_run(spec: str, runs_dir: Path) -> Path:
    """Resolves a run argument: a run directory path, a run id under the runs dir, or ``latest``.

    Raises:
        RunError: when nothing matches, or a run id is ambiguous.
    """
    path = Path(spec)
    if any((path / name).exists() for name in (EVENTS_FILE, CONFIG_FILE, SLURM_JOB_FILE)):
        return path  # a Slurm run still pending has only its job id file
    if spec == "latest":
        runs = list_runs(runs_dir)
        if not runs:
            raise RunError(f"no runs under {runs_dir}")
        return runs[-1].run_dir
    matches = [p for p in runs_dir.glob(f"*/{spec}*") if p.is_dir()] if runs_dir.is_dir() and "/" not in spec else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunError(f"run '{spec}' is ambiguous under {runs_dir}: {', '.join(sorted(m.name for m in matches))}")
    raise RunError(f"run '{spec}' not found (not a run directory, nor a run id under {runs_dir})")
