"""The sweep list and sweep view under Pilot, on a recorded sweep (a real 6-trial sweep of the digits task)."""

import json
import shutil
import sys
from pathlib import Path

from textual.widgets import Static

from tests.xaxtui.conftest import SWEEP_DIR, SWEEP_RUNS, wait_for
from xaxtui.app import XaxTui
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.screens.sweep import SweepScreen
from xaxtui.screens.sweeps import SweepsScreen
from xaxtui.sweeps import best_so_far, trial_run_dir
from xaxtui.widgets.best_curve import BestCurve, history_state
from xaxtui.widgets.sweeps import SweepsTable
from xaxtui.widgets.trials import TrialsTable

SIZE = (110, 32)
SWEEP_ID = SWEEP_DIR.name


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def _sweep_view(pilot) -> SweepScreen:
    """Goes picker -> ``w`` -> enter, and waits until the sweep view drew a read."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepsScreen) and app.screen.scans_shown >= 1)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.reads_shown >= 1)
    screen = app.screen
    assert isinstance(screen, SweepScreen)
    return screen


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(SWEEP_RUNS, tmp_path / "runs")
    return tmp_path / "runs" / "sweeps" / SWEEP_ID


async def test_w_in_the_picker_lists_the_sweep_with_state_progress_and_best():
    app = XaxTui(SWEEP_RUNS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepsScreen) and app.screen.scans_shown >= 1)
        table = app.screen.query_one(SweepsTable)
        assert table.row_count == 1
        row = [str(c) for c in table.get_row(SWEEP_ID)]
        assert row[:5] == [SWEEP_ID, "finished", "6/6", "0.91406", "valid/accuracy ↑"] and row[5] == "4"
        assert "1 sweeps, 0 running" in _text(app.screen, "#sweeps-title")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))


async def test_the_sweep_view_shows_every_trial_the_best_and_a_rising_best_so_far_curve():
    app = XaxTui(SWEEP_RUNS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        table = screen.query_one(TrialsTable)
        assert table.row_count == 6
        states = [str(table.get_row(str(n))[1]) for n in range(6)]
        assert states == ["complete", "complete", "pruned", "complete", "complete", "complete"]
        assert str(table.get_row("4")[0]) == "★4" and str(table.get_row("4")[3]) == "0.91406"
        assert str(table.get_row("2")[5]) == "pruned at step 40" and str(table.get_row("2")[6]).endswith("-t002")
        order = [str(table.get_row_at(i)[0]).strip("★ ") for i in range(table.row_count)]
        values = [t.value for t in screen.sweep.rows] if screen.sweep is not None else []
        ranked = sorted((n for n, v in enumerate(values) if v is not None), key=lambda n: (-(values[n] or 0.0), n))
        unknown = [n for n, v in enumerate(values) if v is None]
        assert order == [str(n) for n in ranked + unknown] and order[:3] == ["4", "1", "0"]  # best first
        title = _text(screen, "#sweep-title")
        assert "finished  6/6 done  valid/accuracy ↑  best 0.91406 (trial 4)" in title
        assert not screen.query_one("#sweep-notice", Static).display
        chart = screen.query_one(BestCurve)
        assert chart.metric == "valid/accuracy (maximize)" and screen.sweep is not None
        assert best_so_far(screen.sweep.rows, maximize=True) == [
            (0, 0.6328125),
            (1, 0.87890625),
            (3, 0.87890625),
            (4, 0.9140625),
            (5, 0.9140625),
        ]  # completed trials only (trial 2 was pruned)
        best = history_state(screen.sweep, chart.metric).series[chart.metric, "best"]
        assert best.steps == [0.0, 1.0, 1.0, 3.0, 4.0, 4.0, 5.0]  # drawn as steps
        assert best.values == [0.6328125, 0.6328125, 0.87890625, 0.87890625, 0.87890625, 0.9140625, 0.9140625]


async def test_minimize_makes_the_curve_the_running_minimum(tmp_path: Path):
    sweep_dir = _copy(tmp_path)
    status = json.loads((sweep_dir / "status.json").read_text())
    status["direction"] = "minimize"
    (sweep_dir / "status.json").write_text(json.dumps(status))
    app = XaxTui(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        assert screen.sweep is not None and not screen.sweep.maximize
        chart = screen.query_one(BestCurve)
        assert [v for _, v in best_so_far(screen.sweep.rows, maximize=False)] == [
            0.6328125,
            0.6328125,
            0.11328125,
            0.11328125,
            0.11328125,
        ]
        assert "valid/accuracy ↓" in _text(screen, "#sweep-title") and chart.metric == "valid/accuracy (minimize)"


async def test_enter_on_a_trial_opens_its_run_in_the_run_view():
    app = XaxTui(SWEEP_RUNS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        assert screen.query_one(TrialsTable).current_trial().number == 4  # the best comes first
        await pilot.press("down", "down")  # trial 0, third by accuracy
        assert screen.query_one(TrialsTable).current_trial().number == 0
        await pilot.press("up", "up")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        run = app.screen
        assert isinstance(run, RunScreen)
        assert run.session.state.run_id == f"{SWEEP_ID}-t004" and run.session.state.status == "finished"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))


async def test_a_garbled_status_shows_a_notice_and_the_next_good_read_shows_the_sweep_again(tmp_path: Path):
    sweep_dir = _copy(tmp_path)
    good = (sweep_dir / "status.json").read_text()
    (sweep_dir / "status.json").write_text(good[: len(good) // 2])  # a torn write
    app = XaxTui(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        notice = screen.query_one("#sweep-notice", Static)
        assert notice.display and "status.json is not valid JSON" in _text(screen, "#sweep-notice")
        assert screen.query_one(TrialsTable).row_count == 0 and "best: none yet" in _text(screen, "#sweep-title")
        await pilot.press("enter")  # no trial to open: nothing happens
        assert isinstance(app.screen, SweepScreen)
        (sweep_dir / "status.json").write_text(good)  # the driver's next write: the poll picks it up
        await wait_for(pilot, lambda: screen.query_one(TrialsTable).row_count == 6)
        assert not notice.display and "best 0.91406" in _text(screen, "#sweep-title")
        (sweep_dir / "status.json").unlink()
        await wait_for(pilot, lambda: notice.display and "no status.json yet" in _text(screen, "#sweep-notice"))


async def test_odd_values_and_a_trial_without_a_run_never_crash_the_view(tmp_path: Path):
    sweep_dir = _copy(tmp_path)
    rows = [
        {"number": 0, "state": "fail", "params": {}, "value": float("nan"), "reason": "NonFiniteLossError: loss"},
        {"number": 1, "state": "running", "params": {"hidden": [32, 64]}, "value": None, "run_dir": ""},
        {"number": 2, "state": "complete", "value": "0.5", "run_dir": "/nowhere/mnist/x-t002"},
    ]
    status = {"state": "running", "trials": None, "objective": "valid/loss", "best": {"number": 9}, "rows": rows}
    (sweep_dir / "status.json").write_text(json.dumps(status))
    app = XaxTui(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        table = screen.query_one(TrialsTable)
        assert table.row_count == 3 and str(table.get_row("0")[3]) == "-"
        title = _text(screen, "#sweep-title")
        assert "dead  2/? done" in title and "best: none yet" in title  # "running", but no driver is alive
        for _ in range(3):
            await pilot.press("enter")  # no run dir with events here: a warning, the view stays
            assert isinstance(app.screen, SweepScreen)
            await pilot.press("down")


async def test_s_stops_the_trial_under_the_cursor_and_x_stops_the_sweep(tmp_path, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    recorder = tmp_path / "engine.py"
    recorder.write_text(
        "import json, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "print('sent SIGTERM to ' + sys.argv[-1])\n"
    )
    monkeypatch.setenv("XAX_ENGINE_CMD", f"{sys.executable} {recorder}")
    sweep_dir = _copy(tmp_path)
    app = XaxTui(sweep_dir.parent.parent)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        trial = screen.query_one(TrialsTable).current_trial()
        assert trial is not None and screen.sweep is not None
        run_dir = trial_run_dir(screen.sweep, trial)
        await pilot.press("s")
        await wait_for(pilot, lambda: calls.exists() and len(calls.read_text().splitlines()) == 1)
        await pilot.press("x")
        await wait_for(pilot, lambda: len(calls.read_text().splitlines()) == 2)
        await wait_for(pilot, lambda: len(app._notifications) >= 2)
        said = [n.message for n in app._notifications]
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        ["stop", str(run_dir)],
        ["sweep", "stop", str(sweep_dir)],
    ]
    assert said[-2:] == [f"sent SIGTERM to {run_dir}", f"sent SIGTERM to {sweep_dir}"]
