"""Reading sweep folders: every value of ``status.json`` is checked, the best-so-far curve follows the direction."""

import json
import math
from pathlib import Path

import pytest

from xaxtui.sweeps import TrialInfo, best_so_far, read_sweep, scan_sweeps, trial_run_dir


def _sweep_dir(root: Path, status: object | None, name: str = "tiny-20261201-120000-0001") -> Path:
    sweep_dir = root / "sweeps" / name
    sweep_dir.mkdir(parents=True)
    (sweep_dir / "sweep.json").write_text(json.dumps({"sweep_id": name, "created_t": 1.0}))
    if status is not None:
        text = status if isinstance(status, str) else json.dumps(status)
        (sweep_dir / "status.json").write_text(text)
    return sweep_dir


def _row(number: int, state: str, value: object) -> dict:
    return {"number": number, "state": state, "params": {"optimizer.lr": 0.01}, "value": value, "step": 20}


def test_best_so_far_follows_the_direction_and_skips_unfinished_or_valueless_trials():
    rows = (
        TrialInfo(0, "complete", value=0.5),
        TrialInfo(1, "pruned", value=0.9),
        TrialInfo(2, "complete", value=0.7),
        TrialInfo(3, "fail"),
        TrialInfo(4, "complete", value=0.6),
        TrialInfo(5, "complete", value=None),
        TrialInfo(6, "running", value=0.1),
    )
    assert best_so_far(rows, maximize=True) == [(0, 0.5), (2, 0.7), (4, 0.7)]
    assert best_so_far(rows, maximize=False) == [(0, 0.5), (2, 0.5), (4, 0.5)]
    assert best_so_far((), maximize=True) == []


@pytest.mark.parametrize(
    ("text", "notice"),
    [
        (None, "no status.json yet"),
        ('{"state": "running", "rows": [', "not valid JSON"),
        ("[1, 2, 3]", "holds a list"),
        ("\xff\xfe", "not valid JSON"),
    ],
)
def test_a_missing_or_garbled_status_gives_a_notice_not_an_error(tmp_path: Path, text: str | None, notice: str):
    sweep = read_sweep(_sweep_dir(tmp_path, text))
    assert notice in sweep.notice
    assert sweep.rows == () and sweep.best is None and sweep.state == "created"


def test_odd_values_are_read_as_unknown_never_raised(tmp_path: Path):
    status = {
        "state": "running",
        "trials": "six",
        "done": float("nan"),
        "objective": None,
        "direction": "sideways",
        "best": {"number": 2, "state": "complete", "value": float("nan")},
        "rows": [
            _row(0, "complete", float("nan")),
            _row(1, "complete", None),
            _row(2, "complete", "0.5"),
            {"number": "x"},
            "not a row",
            {"number": 3.0, "state": None, "params": [1, 2], "value": True, "step": float("inf")},
            _row(4, "complete", 1e308 * 10),
        ],
    }
    sweep = read_sweep(_sweep_dir(tmp_path, json.dumps(status)))  # json writes NaN and Infinity: the driver's json
    assert sweep.notice == ""
    assert [t.number for t in sweep.rows] == [0, 1, 2, 3, 4]
    assert all(t.value is None for t in sweep.rows)
    assert sweep.rows[3] == TrialInfo(3, "?", {}, None, 0, "", "")
    assert sweep.trials is None and sweep.done == 4 and sweep.objective == "" and sweep.direction == "minimize"
    assert sweep.best is None  # a NaN best is no best; done falls back to the finished rows (4 complete)
    assert not math.isnan(sweep.created_t)


def test_scan_lists_newest_first_and_finds_trial_runs_under_a_moved_runs_root(tmp_path: Path):
    old = _sweep_dir(tmp_path, {"rows": []}, "a-20261201-100000-0001")
    new = _sweep_dir(tmp_path, {"rows": [_row(0, "complete", 0.5)]}, "b-20261201-110000-0002")
    (old / "sweep.json").write_text(json.dumps({"created_t": 100.0}))
    (new / "sweep.json").write_text(json.dumps({"created_t": 200.0}))
    assert [s.sweep_id for s in scan_sweeps(tmp_path)] == [new.name, old.name]
    assert [s.sweep_id for s in scan_sweeps(tmp_path / "mnist")] == [new.name, old.name]  # a task folder's parent
    assert scan_sweeps(tmp_path / "nowhere" / "deep") == []
    run = tmp_path / "mnist" / f"{new.name}-t000"
    run.mkdir(parents=True)
    sweep = read_sweep(new)
    moved = TrialInfo(0, "complete", run_dir=f"/elsewhere/runs/mnist/{run.name}")
    assert trial_run_dir(sweep, moved) is None  # no events yet
    (run / "events.jsonl").write_text("")
    assert trial_run_dir(sweep, moved) == run
    assert trial_run_dir(sweep, TrialInfo(0, "running")) is None
