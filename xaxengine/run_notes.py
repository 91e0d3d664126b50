"""What a user says of a run: tags, a one-line note, archived; kept in ``RUN_DIR/notes.json`` (no jax).

The engine never writes this file; ``xaxengine ls`` and the TUI's picker read it, the picker writes it (whole, with
:func:`~xaxengine.files.atomic_write`, so a reader never sees half a file).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from xaxengine.files import atomic_write
from xaxengine.runs import CONFIG_FILE, EVENTS_FILE, SLURM_JOB_FILE, RunError

NOTES_FILE = "notes.json"


@dataclass
class RunNotes:
    """A run's tags, note and archived mark.

    Attributes:
        tags: Short labels, in the order given, without duplicates.
        note: One line of free text.
        archived: Whether the picker hides the run by default.
    """

    tags: list[str] = field(default_factory=list)
    note: str = ""
    archived: bool = False


def parse_tags(text: str) -> list[str]:
    """Tags from what a user typed: separated by commas or spaces, duplicates dropped, order kept."""
    return list(dict.fromkeys(t for t in text.replace(",", " ").split() if t))


def read_notes(run_dir: Path) -> RunNotes:
    """The run's notes; empty ones when the file is missing or unreadable (a bad file must not hide the run)."""
    try:
        data = json.loads((run_dir / NOTES_FILE).read_text())
    except (OSError, ValueError):
        return RunNotes()
    if not isinstance(data, dict):
        return RunNotes()
    tags = data.get("tags")
    return RunNotes(
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        note=str(data.get("note") or ""),
        archived=data.get("archived") is True,
    )


def write_notes(run_dir: Path, notes: RunNotes) -> None:
    """Replaces the run's notes file whole.

    Raises:
        RunError: When ``run_dir`` is not a run directory or the file cannot be written.
    """
    if not is_run_dir(run_dir):
        raise RunError(f"{run_dir}: not a run directory")
    data = {"tags": parse_tags(" ".join(notes.tags)), "note": " ".join(notes.note.split()), "archived": notes.archived}
    try:
        atomic_write(run_dir / NOTES_FILE, json.dumps(data, indent=1) + "\n")
    except OSError as error:
        raise RunError(f"{run_dir}: cannot write {NOTES_FILE}: {error.strerror or error}") from None


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory (it holds an events file, a config or a Slurm job id)."""
    return path.is_dir() and any((path / name).is_file() for name in (EVENTS_FILE, CONFIG_FILE, SLURM_JOB_FILE))
