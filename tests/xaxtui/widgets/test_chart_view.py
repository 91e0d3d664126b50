"""The chart views: full screen with zoom, pan and a cursor readout; robust y clipping; legend placement; paging.
Recorded runs written to real files, driven through the app with Pilot."""

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
from textual.app import App, ComposeResult
from textual.geometry import Offset

from tests.xaxtui.conftest import wait_for
from tests.xaxtui.widgets.test_charts import MODES, margin_text, random_state
from xaxengine.protocol import make_event
from xaxtui.app import XaxTui
from xaxtui.messages import RunUpdated
from xaxtui.screens.chart import ChartScreen
from xaxtui.screens.run import RunScreen
from xaxtui.state import fold
from xaxtui.widgets.chart_view import legend_corner, nearest, robust_range, shift, zoom
from xaxtui.widgets.charts import ChartOptions, ChartPane, MetricChart, curve


def write_metrics_run(root: Path, metrics: dict[str, list[float]], run_id: str = "20261201-000000-cafe") -> Path:
    """A finished recorded run logging each metric of ``metrics`` for train (every step) and valid (every 10th)."""
    run_dir = root / "mnist" / run_id
    run_dir.mkdir(parents=True)
    n = max(len(v) for v in metrics.values())
    events: list[dict] = [
        {"kind": "run_start", "run_id": run_id, "task": "tasks.mnist:MnistTask", "run_dir": str(run_dir)}
        | {"config": {}, "layout": "single_device", "devices": ["cpu:0"], "host": "h", "pid": 1, "git": None}
        | {"versions": {}, "max_steps": n, "resumed_from_step": None},
        {"kind": "status", "state": "running", "reason": None, "step": 0},
    ]
    for i in range(n):
        values = {m: v[i] for m, v in metrics.items() if i < len(v)}
        events.append({"kind": "scalars", "step": i + 1, "phase": "train", "values": values, "t": 1e9 + i})
        if (i + 1) % 10 == 0:
            valid = {m: v * 1.5 for m, v in values.items()}
            events.append({"kind": "scalars", "step": i + 1, "phase": "valid", "values": valid, "t": 1e9 + i})
    events.append({"kind": "status", "state": "finished", "reason": None, "step": n})
    lines = [json.dumps({"v": 1, "seq": seq, "t": 1e9} | e) for seq, e in enumerate(events)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


def loss_chart(app) -> MetricChart:
    return next(c for c in app.screen.query(MetricChart) if c.metric == "loss")


async def open_settled(pilot, app) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)


def test_robust_range_clips_only_a_diverging_run():
    rng = np.random.default_rng(0)
    calm = rng.normal(1.0, 0.1, 500)
    assert robust_range([calm]) is None
    spiky = calm.copy()
    spiky[[100, 400]] = [1e6, -1e5]
    lo, hi = robust_range([spiky, np.array([np.nan, np.inf])])
    assert 0 < lo < 1 < hi < 2, (lo, hi)
    extreme = np.concatenate([calm, [1.7e308, -1.7e308, np.nan]])
    lo, hi = robust_range([extreme])
    assert math.isfinite(lo) and math.isfinite(hi) and lo < 1 < hi < 10
    assert robust_range([np.array([1.0, 1e9])]) is None  # too few points to call any of them an outlier


def test_zoom_shift_and_nearest_stay_in_bounds():
    bounds = (0.0, 1000.0)
    view = zoom(bounds, bounds, 900.0, 2.0)
    assert view[1] - view[0] == 500.0 and view[0] <= 900.0 <= view[1] and view[1] <= 1000.0
    assert zoom(view, bounds, 900.0, 0.5) == bounds
    assert shift((800.0, 900.0), bounds, 500.0) == (900.0, 1000.0)
    assert shift((10.0, 60.0), bounds, -100.0) == (0.0, 50.0)
    tiny = zoom(bounds, bounds, 5.0, 1e9)
    assert tiny[1] - tiny[0] >= 4.0
    x = np.array([1.0, 2.0, 3.0, 10.0])
    y = np.array([5.0, np.nan, 7.0, 8.0])
    assert nearest(x, y, 2.1) == (3.0, 7.0) and nearest(x, y, 9.0) == (10.0, 8.0)
    assert nearest(x, np.full(4, np.nan), 2.0) is None


def test_legend_goes_where_the_newest_data_is_not():
    x = np.arange(100.0)
    limits = (0.0, 99.0, 0.0, 1.0)
    box = (0.2, 0.3)
    assert legend_corner([(x, np.linspace(1, 0, 100))], limits, box) != "bottom right"  # a falling loss
    assert legend_corner([(x, np.linspace(0, 1, 100))], limits, box) != "top right"  # a rising accuracy
    both = [(x, np.linspace(1, 0.9, 100)), (x, np.linspace(0, 0.1, 100))]  # train high, valid low at the end
    assert "left" in legend_corner(both, limits, box)


async def test_a_diverging_run_is_clipped_and_the_key_shows_all(tmp_path: Path):
    values = [1.0 / (1 + i / 50) for i in range(300)]
    values[150] = 5e9  # one spike would squash the curve into a flat line
    app = XaxTui(write_metrics_run(tmp_path, {"loss": values}))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        chart = loss_chart(app)
        assert chart.clipped
        await wait_for(pilot, lambda: "y clipped to p1\N{EN DASH}p99, y: show all" in margin_text(chart, "top")[0])
        assert chart._y_max < 5, chart._y_max
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.is_settled and not chart.clipped)
        await wait_for(pilot, lambda: "clipped" not in margin_text(chart, "top")[0])
        assert any(label.strip().endswith("e9") or label.strip().endswith("G") for label in margin_text(chart, "left"))


async def test_legend_does_not_cover_the_newest_points(tmp_path: Path):
    app = XaxTui(write_metrics_run(tmp_path, {"loss": [2.0 - i / 100 for i in range(150)]}))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        chart = loss_chart(app)
        assert chart.legend_at != "bottom right"
        legend = chart.query_one("#legend")
        canvas = chart.query_one("#plot")
        last_x, last_y = chart._datasets[0].x[-1], chart._datasets[0].y[-1]
        px, py = chart.get_pixel_from_coordinate(last_x, last_y)
        point = canvas.region.offset + Offset(px, py)
        assert not legend.region.contains_point(point), (legend.region, point)


async def test_metric_grid_pages_when_not_all_charts_fit(tmp_path: Path):
    metrics = {f"m{k}": [float(k + i) for i in range(30)] for k in range(7)}
    app = XaxTui(write_metrics_run(tmp_path, metrics))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        pane = app.screen.query_one(ChartPane)
        shown = pane.metrics
        assert 0 < len(shown) < 7
        options_line = str(pane.query_one("#chart-options").render())
        assert f"{len(shown)} of 7 metrics shown" in options_line, options_line
        seen = list(shown)
        for _ in range(-(-7 // len(shown)) - 1):
            await pilot.press("right_square_bracket")
            last = seen[-len(shown) :]
            await wait_for(pilot, lambda last=last: pane.metrics != last and app.screen.is_settled)
            seen += pane.metrics
        assert sorted(set(seen)) == sorted(metrics)
        await pilot.press("right_square_bracket")  # wraps to the first page
        await wait_for(pilot, lambda: pane.metrics == shown and app.screen.is_settled)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: pane.metrics != shown and app.screen.is_settled)


async def test_full_screen_chart_zooms_pans_and_reads_out_every_series(tmp_path: Path):
    run_a = write_metrics_run(tmp_path, {"loss": [100.0 - i for i in range(100)], "acc": [i / 100 for i in range(100)]})
    run_b = write_metrics_run(tmp_path, {"loss": [200.0 - i for i in range(80)]}, run_id="20261201-000000-d00d")
    app = XaxTui(tmp_path)
    app.call_later(lambda: app.show_runs([run_a, run_b]))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and len(app.screen.sessions) == 2)
        await open_settled(pilot, app)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws > 0)
        screen = app.screen
        assert screen.metric == "loss" and screen.cursor == 100.0

        def readout() -> str:
            return str(screen.query_one("#chart-readout").render())

        text = readout()
        assert text.startswith("step 100") and "cafe train 1" in text and "cafe valid 1.5" in text, text
        assert "d00d train 121 @80" in text, text  # the compared run's nearest point, and where it is
        await pilot.press("left", "h")
        await wait_for(pilot, lambda: screen.cursor == 98.0)
        assert "cafe train 3" in readout() and readout().startswith("step 98")
        await pilot.press("plus")
        await wait_for(pilot, lambda: screen.view is not None)
        lo, hi = screen.view
        assert hi - lo == 49.5 and lo <= 98 <= hi and screen.chart._x_min >= lo - 1
        await pilot.press("shift+left")
        await wait_for(pilot, lambda: screen.view is not None and screen.view[0] < lo)
        assert screen.view[1] - screen.view[0] == 49.5 and screen.view[0] <= screen.cursor <= screen.view[1]
        await pilot.press("0")
        await wait_for(pilot, lambda: screen.view is None and screen.cursor == 100.0)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: screen.metric == "acc")
        await wait_for(pilot, lambda: "cafe train 0.99" in readout())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))


async def test_clicking_a_chart_opens_it_full_screen(tmp_path: Path):
    app = XaxTui(write_metrics_run(tmp_path, {"loss": [1.0, 0.5, 0.25] * 10}))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        await pilot.click(loss_chart(app))
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.metric == "loss")


class ChartsApp(App):
    """A bare app holding one full-size chart."""

    def compose(self) -> ComposeResult:
        yield MetricChart("loss")


async def test_zoomed_clipped_and_cursor_charts_never_crash_on_extreme_values():
    rng = random.Random(1515)
    app = ChartsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        chart = app.query_one(MetricChart)
        for trial in range(10):
            runs = [(f"r{trial}-{k}", random_state(rng, f"r{trial}-{k}")) for k in range(rng.choice((1, 3)))]
            for options in MODES:
                for clip in (True, False):
                    x_range = rng.choice((None, (0.0, 2.0), (1.0, 1.0), (-5.0, 1e308), (2.0, 150.0)))
                    chart.cursor = rng.choice((None, 0.0, 1.0, 17.0, 1e308))
                    chart.draw(runs, replace(options, clip=clip, x_range=x_range))
                    chart.readout(chart.cursor if chart.cursor is not None else 1.0, options.x_axis)
                    if chart.x_bounds is not None:
                        assert all(math.isfinite(v) for v in chart.x_bounds)
                await pilot.pause()


async def test_full_screen_chart_follows_new_points_of_a_live_run(tmp_path: Path):
    app = XaxTui(write_metrics_run(tmp_path, {"loss": [5.0 - i / 10 for i in range(40)]}))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        session = app.screen.session
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws > 0)
        screen = app.screen
        assert screen.chart.x_bounds == (1.0, 40.0)
        event = make_event(session.state.last_seq + 1, "scalars", t=session.state.last_t + 1, step=41, phase="train")
        event["values"] = {"loss": 0.125}
        fold(session.state, [event])
        session.version += 1
        screen.post_message(RunUpdated(session))
        await wait_for(pilot, lambda: screen.chart.x_bounds == (1.0, 41.0))
        assert screen.cursor == 40.0  # the cursor stays where the user left it
        await pilot.press("0")
        await wait_for(pilot, lambda: "train 0.125" in str(screen.query_one("#chart-readout").render()))


def test_a_zoomed_curve_keeps_every_finite_point_in_its_range():
    rng = random.Random(77)
    for trial in range(40):
        state = random_state(rng, f"z{trial}")
        for metric, phase in state.series:
            xs, ys = state.series[metric, phase].arrays("step")
            lo, hi = sorted(rng.uniform(0, 300) for _ in range(2))
            x, _ = curve(state, metric, phase, ChartOptions(x_range=(lo, hi)), width=10**6)
            finite = np.isfinite(ys) & np.isfinite(xs)
            inside = xs[finite & (xs >= lo) & (xs <= hi)]
            assert np.array_equal(x[(x >= lo) & (x <= hi)], inside), (lo, hi)
            assert len(x) <= len(inside) + 2  # at most one neighbour either side


async def test_full_screen_chart_on_the_time_axis_reads_out_elapsed_time(tmp_path: Path):
    app = XaxTui(write_metrics_run(tmp_path, {"loss": [5.0 - i / 100 for i in range(400)]}))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        await pilot.press("x", "f")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws > 0)
        screen = app.screen
        await wait_for(pilot, lambda: str(screen.query_one("#chart-readout").render()).startswith("time 6.65min"))
        assert "train 1.01" in str(screen.query_one("#chart-readout").render())
