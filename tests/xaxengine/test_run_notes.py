"""The catalogue's new columns in process (no engine): notes.json, the best valid loss of a growing file, JSON rows."""

import json
import shutil
from pathlib import Path

import pytest

from xaxengine.catalog import list_runs, read_run_info
from xaxengine.run_info import RunInfo
from xaxengine.run_notes import NOTES_FILE, RunNotes, parse_tags, read_notes, write_notes
from xaxengine.runs import RunError

RUN_A = Path(__file__).resolve().parents[1] / "fixtures" / "recorded_runs" / "mnist" / "20261125-060000-a1b2"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A writable copy of a recorded run."""
    return Path(shutil.copytree(RUN_A, tmp_path / "runs" / "mnist" / RUN_A.name))


def _valid(step: int, loss: float) -> str:
    event = {"v": 1, "seq": 1000 + step, "t": 1764050100.0, "kind": "scalars", "step": step, "phase": "valid"}
    return json.dumps({**event, "values": {"loss": loss}}, separators=(",", ":"))


def test_best_valid_loss_follows_a_growing_file_and_skips_a_partial_line(run_dir: Path):
    assert read_run_info(run_dir).best_valid_loss == pytest.approx(0.4738454287730128)
    with open(run_dir / "events.jsonl", "a") as f:
        f.write(_valid(350, 0.25) + "\n" + _valid(400, 0.125)[:40])  # the second line is not complete yet
    assert read_run_info(run_dir).best_valid_loss == 0.25
    with open(run_dir / "events.jsonl", "a") as f:
        f.write(_valid(400, 0.125)[40:] + "\n" + _valid(450, float("nan")) + "\n")  # NaN is never the best
    info = read_run_info(run_dir)
    assert info.best_valid_loss == 0.125
    assert info.duration_s == 100.0  # first event to newest
    fresh = Path(shutil.copytree(run_dir, run_dir.parent / "copy"))
    assert read_run_info(fresh).best_valid_loss == 0.125  # a first scan of the whole file finds the same


def test_notes_round_trip_and_a_bad_notes_file_hides_nothing(run_dir: Path):
    write_notes(run_dir, RunNotes(tags=parse_tags("best, lr best  x"), note="  two\n lines ", archived=True))
    assert read_notes(run_dir) == RunNotes(tags=["best", "lr", "x"], note="two lines", archived=True)
    info = read_run_info(run_dir)
    assert (info.tags, info.note, info.archived) == (["best", "lr", "x"], "two lines", True)
    row = json.loads(json.dumps(info.to_dict()))
    back = RunInfo.from_dict(row)
    assert (back.tags, back.note, back.archived, back.best_valid_loss) == (
        info.tags,
        info.note,
        True,
        info.best_valid_loss,
    )
    assert back.config["optimizer.lr"] == 0.002
    old = RunInfo.from_dict({k: v for k, v in row.items() if k not in {"tags", "note", "archived", "config"}})
    assert (old.tags, old.note, old.archived, old.config) == ([], "", False, {})
    (run_dir / NOTES_FILE).write_text("{not json")
    assert read_notes(run_dir) == RunNotes()
    assert [r.run_id for r in list_runs(run_dir.parents[1])] == [RUN_A.name]


def test_notes_are_written_only_into_run_dirs(tmp_path: Path):
    with pytest.raises(RunError, match="not a run directory"):
        write_notes(tmp_path, RunNotes(tags=["x"]))
    assert not (tmp_path / NOTES_FILE).exists()
