"""The sweep view's charts and control keys under Pilot: a scatter per param, the running trials' live curves, and
``p``/``+``/``-`` (on copies of the recorded sweep, edited to hold running trials, choices and odd values)."""

import json
import math
import shutil
import sys
from pathlib import Path

from tests.xaxtui.conftest import SWEEP_DIR, SWEEP_RUNS, wait_for
from tests.xaxtui.screens.test_sweep import SIZE, _sweep_view, _text
from xaxtui.app import XaxTui
from xaxtui.live_trials import assign_colors
from xaxtui.screens.sweep import CHART_ROW_MIN, ChartGrid, SweepScreen
from xaxtui.widgets.axes import CategoryFormatter
from xaxtui.widgets.charts import PALETTE
from xaxtui.widgets.live_curves import LiveCurves
from xaxtui.widgets.param_scatter import BEST_MARKER, ParamScatter
from xaxtui.widgets.trials import TrialsTable

SWEEP_ID = SWEEP_DIR.name


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(SWEEP_RUNS, tmp_path / "runs")
    return tmp_path / "runs" / "sweeps" / SWEEP_ID


def _edit_status(sweep_dir: Path, edit) -> None:
    status = json.loads((sweep_dir / "status.json").read_text())
    edit(status)
    (sweep_dir / "status.json").write_text(json.dumps(status))


def _events(sweep_dir: Path, number: int) -> Path:
    return sweep_dir.parent.parent / "mnist" / f"{SWEEP_ID}-t{number:03d}" / "events.jsonl"


def _style(dataset) -> str:
    """A drawn curve's color: a line's, or a lone point's marker's."""
    return dataset.line_style if hasattr(dataset, "line_style") else dataset.marker_style


def _scatters(screen: SweepScreen) -> dict[str, ParamScatter]:
    return {chart.axis.name: chart for chart in screen.query(ParamScatter)}


def test_trial_colors_stay_with_their_trial_as_trials_come_and_go():
    palette = ("a", "b", "c")
    first = assign_colors({}, [0, 1], palette)
    assert first == {0: "a", 1: "b"}
    later = assign_colors(first, [1, 4], palette)  # 0 ended; 4 prefers b (4 % 3), which 1 holds
    assert later == {1: "b", 4: "c"}
    assert assign_colors(later, [1, 4, 6], palette)[6] == "a"  # the color 0 left is free again
    assert assign_colors(later, [4], palette) == {4: "c"}  # 1 ended: 4 keeps its color, not the one it prefers
    assert set(assign_colors({}, [0, 3, 6, 9], palette).values()) == {"a", "b", "c"}  # more trials than colors


def test_category_labels_follow_the_index_and_are_cut_to_fit():
    formatter = CategoryFormatter(["64", "128", "[32, 64, 128]"])
    ticks = formatter.get_ticks(-0.5, 2.5)
    assert ticks == [0.0, 1.0, 2.0]
    assert formatter.get_labels_for_ticks(ticks) == ["64", "128", "[32, 6…"]
    assert formatter.get_ticks(float("nan"), 1.0) == []
    assert len(formatter.get_ticks(0, 2, max_ticks=2)) == 2


async def test_a_log_param_is_scattered_on_a_log_axis_with_the_best_starred():
    app = XaxTui(SWEEP_RUNS)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        await wait_for(pilot, lambda: "optimizer.lr" in _scatters(screen))
        chart = _scatters(screen)["optimizer.lr"]
        assert chart.axis.scale == "log"
        points = chart.points
        lrs = {t.number: t.params["optimizer.lr"] for t in points.trials}
        assert sorted(lrs) == [0, 1, 2, 3, 4, 5]  # the pruned trial 2 too: it has a value
        assert all(math.isclose(x, math.log10(lrs[t.number])) for x, t in zip(points.x, points.trials, strict=True))
        assert [d.marker for d in chart._datasets].count(BEST_MARKER[0]) == 1
        assert "valid/accuracy vs optimizer.lr (log)" in chart._y_label


async def test_choice_params_are_scattered_by_category_and_odd_values_are_counted_not_drawn(tmp_path: Path):
    sweep_dir = _copy(tmp_path)
    toml = (sweep_dir / "sweep.toml").read_text()
    (sweep_dir / "sweep.toml").write_text(toml + "hidden = { choice = [64, 128, 256] }\n")
    hidden = [64, 256, 128, 999, 64, 256]  # 999 is not a choice: it cannot be placed

    def edit(status):
        for row, h in zip(status["rows"], hidden, strict=True):
            row["params"]["hidden"] = h
            row["params"]["act"] = ["relu", "gelu"][row["number"] % 2]  # not in the sweep file: inferred
        status["rows"][0]["value"] = float("nan")  # a complete trial whose objective was not finite
        status["rows"][5]["params"]["optimizer.lr"] = -1.0  # cannot go on a log axis
        status["rows"][1]["params"].pop("hidden")  # a conditional param trial 1 did not sample

    _edit_status(sweep_dir, edit)
    app = XaxTui(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        await wait_for(pilot, lambda: len(_scatters(screen)) == 3)
        charts = _scatters(screen)
        assert list(charts) == ["optimizer.lr", "hidden", "act"]
        by_hidden = charts["hidden"]
        assert by_hidden.axis.scale == "choice" and by_hidden.axis.choices == (64, 128, 256)
        placed = {t.number: x for x, t in zip(by_hidden.points.x, by_hidden.points.trials, strict=True)}
        assert placed == {2: 1.0, 4: 0.0, 5: 2.0}  # 0 has no value, 1 no hidden, 3 a value outside the choices
        assert by_hidden.points.skipped == 2 and "2 not drawn" in by_hidden._y_label
        assert charts["optimizer.lr"].points.skipped == 2  # trial 0's NaN and trial 5's negative lr
        act = charts["act"]
        assert act.axis.scale == "choice" and act.axis.choices == ("gelu", "relu")
        assert isinstance(act._x_formatter, CategoryFormatter) and act._x_formatter.labels == ["gelu", "relu"]


async def test_running_trials_are_overlaid_live_each_in_its_own_lasting_color(tmp_path: Path):
    sweep_dir = _copy(tmp_path)
    full = {n: _events(sweep_dir, n).read_text().splitlines(keepends=True) for n in (0, 1, 2)}
    for n in (0, 1):
        _events(sweep_dir, n).write_text("".join(full[n][:19]))  # up to the first valid accuracy (step 10)

    def running(numbers):
        def edit(status):
            status["state"] = "running"
            for row in status["rows"]:
                if row["number"] in numbers:
                    row["state"], row["value"] = "running", None
                elif row["state"] == "running":
                    row["state"] = "complete"  # it ended

        return edit

    _edit_status(sweep_dir, running({0, 1}))
    app = XaxTui(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        chart = screen.query_one(LiveCurves)

        def lengths() -> dict[str, int]:
            return {
                label: len(state.series[("accuracy", "valid")])
                for label, state in screen.live.curves("valid/accuracy")
                if state.series
            }

        await wait_for(pilot, lambda: lengths() == {"trial 0": 1, "trial 1": 1})
        assert screen.live.colors == {0: PALETTE[0], 1: PALETTE[1]}
        await wait_for(pilot, lambda: sorted(chart._labels) == ["trial 0", "trial 1"])
        assert "valid/accuracy · 2 running" in chart._y_label
        with _events(sweep_dir, 0).open("a") as f:
            f.write("".join(full[0][19:]))  # the trial goes on: steps 20-40
        await wait_for(pilot, lambda: lengths().get("trial 0") == 4)
        drawn = screen.live_draws
        await wait_for(pilot, lambda: screen.live_draws > drawn and sorted(chart._labels) == ["trial 0", "trial 1"])
        styles = {label: _style(d) for label, d in zip(chart._labels, chart._datasets, strict=True) if label}
        assert styles == {"trial 0": PALETTE[0], "trial 1": PALETTE[1]}  # trial 1 has one point: a marker

        def swap(status):  # trial 0 ends; trial 9 (its run is trial 2's folder) starts and prefers trial 1's color
            running({1})(status)
            row = next(r for r in status["rows"] if r["number"] == 2)
            row["number"], row["state"], row["value"] = 9, "running", None

        _edit_status(sweep_dir, swap)
        await wait_for(pilot, lambda: sorted(screen.live.tails) == [1, 9])
        assert screen.live.colors == {1: PALETTE[1], 9: PALETTE[2]}  # trial 1 keeps its color
        await wait_for(pilot, lambda: sorted(chart._labels) == ["trial 1", "trial 9"])
        _edit_status(sweep_dir, running({9}))  # trial 1 ends: trial 9 keeps its color, not the one it prefers
        await wait_for(pilot, lambda: sorted(screen.live.tails) == [9])
        assert screen.live.colors == {9: PALETTE[2]}
        _edit_status(sweep_dir, running(set()))
        await wait_for(pilot, lambda: not screen.live.tails and "no running trial" in chart._y_label)


async def test_p_prunes_a_running_trial_and_plus_minus_ask_for_another_parallel(tmp_path, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    recorder = tmp_path / "engine.py"
    recorder.write_text(
        "import json, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "print('asked ' + ' '.join(sys.argv[2:3] + sys.argv[-1:]))\n"
    )
    monkeypatch.setenv("XAX_ENGINE_CMD", f"{sys.executable} {recorder}")
    sweep_dir = _copy(tmp_path)

    def edit(status):
        status["parallel"] = 1
        status["rows"][4]["state"] = "running"  # the best row, first in the table

    _edit_status(sweep_dir, edit)

    def recorded() -> list[list[str]]:
        return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []

    app = XaxTui(sweep_dir.parent.parent)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        assert "parallel 1" in _text(screen, "#sweep-title")
        assert screen.query_one(TrialsTable).current_trial().number == 4
        await pilot.press("p")
        await wait_for(pilot, lambda: len(recorded()) == 1)
        await pilot.press("down")  # trial 1: complete, nothing to prune
        await pilot.press("p")
        await wait_for(pilot, lambda: any("only a running trial" in n.message for n in app._notifications))
        await pilot.press("minus")  # parallel 1 cannot go lower
        await wait_for(pilot, lambda: any("parallel is 1 already" in n.message for n in app._notifications))
        await pilot.press("plus")
        await wait_for(pilot, lambda: len(recorded()) == 2 and screen.parallel_asked == 2)
        assert "parallel 1 (→ 2 asked)" in _text(screen, "#sweep-title")
        await pilot.press("plus")  # counts from what was asked, not from the stale status
        await wait_for(pilot, lambda: len(recorded()) == 3)
        _edit_status(sweep_dir, lambda s: s.update(parallel=3))  # the driver took it up
        await wait_for(pilot, lambda: screen.parallel_asked is None and "parallel 3  " in _text(screen, "#sweep-title"))
    assert recorded() == [
        ["sweep", "prune", str(sweep_dir), "4"],
        ["sweep", "parallel", str(sweep_dir), "2"],
        ["sweep", "parallel", str(sweep_dir), "3"],
    ]


async def test_extreme_values_are_drawn_without_overflowing_the_axes(tmp_path: Path):
    sweep_dir = _copy(tmp_path)
    (sweep_dir / "sweep.toml").unlink()  # no sweep file: every axis is inferred from the values

    def edit(status):
        for row, (width, value) in zip(status["rows"], [(1e308, -1e308), (-1e308, 1e308), (0, 0.5)] * 2, strict=True):
            row["params"] = {"width": width, "optimizer.lr": row["params"]["optimizer.lr"]}
            row["value"] = value
        status["best"] = status["rows"][1]

    _edit_status(sweep_dir, edit)
    app = XaxTui(tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_view(pilot)
        await wait_for(pilot, lambda: len(_scatters(screen)) == 2)
        width = _scatters(screen)["width"]
        assert width.axis.scale == "linear" and len(width.points.x) == 6
        assert _scatters(screen)["optimizer.lr"].axis.scale == "linear"  # no sweep file says it is a log range
        await pilot.resize_terminal(80, 30)  # redrawn at another width: still no overflow
        await wait_for(pilot, lambda: width.fits_size)


async def test_on_a_short_terminal_the_charts_go_side_by_side_to_keep_their_height():
    app = XaxTui(SWEEP_RUNS)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _sweep_view(pilot)
        await wait_for(pilot, lambda: bool(_scatters(screen)))
        grid = screen.query_one(ChartGrid)
        await wait_for(pilot, lambda: grid.styles.grid_size_columns == 3)  # one row of three
        charts = list(grid.children)
        await wait_for(pilot, lambda: all(c.region.height >= CHART_ROW_MIN for c in charts))
        await pilot.resize_terminal(100, 40)  # room for two rows: two columns again
        await wait_for(pilot, lambda: grid.styles.grid_size_columns == 2)
        await wait_for(pilot, lambda: len({c.region.y for c in charts}) == 2)
