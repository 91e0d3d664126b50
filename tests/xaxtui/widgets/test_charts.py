"""Charts tell the truth: tick labels that fit and read as the values, for any value a run can log."""

import json
import math
import random
from pathlib import Path

import numpy as np
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Input, Static

from tests.xaxtui.conftest import wait_for
from xaxtui.app import XaxTui
from xaxtui.screens.run import RunScreen
from xaxtui.state import RunState, fold
from xaxtui.widgets.axes import (
    LABEL_WIDTH,
    CompactFormatter,
    ElapsedFormatter,
    LogFormatter,
    compact_labels,
    nice_ticks,
)
from xaxtui.widgets.charts import PALETTE, ChartOptions, ChartPane, MetricChart, curve, run_color, run_colors
from xaxtui.widgets.logs import LogPane


def write_run(
    root: Path, values: list[float | None], metric: str = "loss", dt: float = 1.0, run_id: str = "20261201-000000-beef"
) -> Path:
    """A finished recorded run whose train ``metric`` takes ``values`` at steps 1, 2, ..."""
    run_dir = root / "mnist" / run_id
    run_dir.mkdir(parents=True)
    t0 = 1764547200.0
    events: list[dict] = [
        {"kind": "run_start", "run_id": run_dir.name, "task": "tasks.mnist:MnistTask", "run_dir": str(run_dir)}
        | {"config": {}, "layout": "single_device", "devices": ["cpu:0"], "host": "h", "pid": 1, "git": None}
        | {"versions": {}, "max_steps": len(values), "resumed_from_step": None},
        {"kind": "status", "state": "running", "reason": None, "step": 0},
    ]
    for i, v in enumerate(values):
        events.append({"kind": "scalars", "step": i + 1, "phase": "train", "values": {metric: v}, "t": t0 + dt * i})
    events.append({"kind": "status", "state": "finished", "reason": None, "step": len(values)})
    lines = []
    for seq, event in enumerate(events):
        lines.append(json.dumps({"v": 1, "seq": seq, "t": t0} | event))
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


def margin_text(chart: MetricChart, which: str) -> list[str]:
    """The text of one of the chart's margins (``left``: y ticks, ``bottom``: x ticks, ``top``: title)."""
    canvas = chart.query_one(f"#margin-{which}")
    strips = canvas.render_lines(Region(0, 0, canvas.size.width, canvas.size.height))
    return [strip.text for strip in strips]


def test_compact_labels_fit_and_read_as_the_tick_values():
    cases = [(8e19, 1.7e20), (0, 4.8e15), (0, 3200), (1e-3, 3.5e-3), (0.1, 0.9), (-2, 2), (0, 1.8e6), (-1e308, 1e308)]
    for lo, hi in cases:
        ticks = nice_ticks(lo, hi)
        labels = compact_labels(ticks)
        assert len(ticks) >= 2 and all(len(label) <= LABEL_WIDTH for label in labels), (lo, hi, labels)
        assert len(set(labels)) == len(labels), labels
        for tick, label in zip(ticks, labels, strict=True):
            value = float(label.replace("k", "e3").replace("M", "e6").replace("G", "e9").replace("T", "e12"))
            assert abs(value - tick) <= 1e-9 * max(abs(tick), 1e-300), (tick, label)
    assert compact_labels(nice_ticks(1.2e20, 1.7e20))[-2:] == ["1.6e20", "1.7e20"]
    assert "4.8e15" in compact_labels([4.8e15, 4.9e15])
    assert compact_labels([3200.0, 3300.0])[0] == "3.2k"


def test_log_axis_labels_are_values_and_time_axis_has_units():
    assert LogFormatter().get_ticks_and_labels(-3.2, 0.5) == ([-3.0, -2.0, -1.0, 0.0], ["1e-3", "1e-2", "0.1", "1"])
    ticks, labels = LogFormatter().get_ticks_and_labels(-300.0, 300.0)
    assert labels == ["1e-200", "1", "1e200"] and ticks == [-200.0, 0.0, 200.0]
    assert ElapsedFormatter().get_ticks_and_labels(0, 45)[1] == ["0s", "20s", "40s"]
    assert ElapsedFormatter().get_ticks_and_labels(0, 400)[1][-1] == "6min"
    assert ElapsedFormatter().get_ticks_and_labels(0, 20000)[1] == ["0h", "2h", "4h"]
    assert CompactFormatter(scale=1e300).get_labels_for_ticks([0.0, 1.0]) == ["0", "1e300"]


async def test_chart_of_a_diverged_run_shows_compact_ordered_y_labels(tmp_path: Path):
    run_dir = write_run(tmp_path, [1e20 + 1e18 * i for i in range(71)], dt=10.0)
    app = XaxTui(run_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)
        chart = next(c for c in app.screen.query(MetricChart) if c.metric == "loss")
        labels = [line.strip() for line in margin_text(chart, "left") if line.strip()]
        assert len(labels) >= 3 and all(label.endswith("e20") for label in labels), labels
        values = [float(label) for label in labels]
        assert values == sorted(values, reverse=True) and max(values) <= 1.7e20 and min(values) >= 1e20, labels
        await pilot.press("l")
        await wait_for(pilot, lambda: app.screen.is_settled and chart.fits_size)
        await wait_for(pilot, lambda: "1e20" in "".join(margin_text(chart, "left")))
        await pilot.press("x")
        await wait_for(pilot, lambda: "min" in "".join(margin_text(chart, "bottom")))


async def test_log_chart_title_keeps_its_first_letter(tmp_path: Path):
    run_dir = write_run(tmp_path, [10.0 ** (-i / 10) for i in range(50)], metric="grad_norm")
    app = XaxTui(run_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)
        await pilot.press("l")
        chart = next(c for c in app.screen.query(MetricChart) if c.metric == "grad_norm")
        await wait_for(pilot, lambda: margin_text(chart, "top")[0].startswith("grad_norm (log)"))


EXTREMES = (math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 1e-300, -1.0)


def random_values(rng: random.Random, n: int) -> list[float]:
    """A series mixing ordinary values, every non-finite value, signed zeros and values near the float limits."""
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.3:
            out.append(rng.choice(EXTREMES))
        elif roll < 0.5:
            out.append(rng.choice((-1, 1)) * 10.0 ** rng.uniform(-320, 308))
        else:
            out.append(rng.gauss(1.0, 0.5))
    return out


def random_state(rng: random.Random, run_id: str) -> RunState:
    """A run state folded from scalars events of random length (1 point included) with random values."""
    n = rng.choice((1, 2, 3, 17, 300))
    events: list[dict] = [{"seq": 0, "t": 100.0, "kind": "run_start", "run_id": run_id, "config": {}}]
    t = 100.0
    for i in range(n):
        t += rng.choice((0.0, 1e-6, 0.5, 3600.0))
        values = {"loss": rng.choice(random_values(rng, 1)), "acc": random_values(rng, 1)[0]}
        events.append({"seq": i + 1, "t": t, "kind": "scalars", "step": i + 1, "phase": rng.choice(PHASES)})
        events[-1]["values"] = values
    return fold(RunState(), events)


PHASES = ("train", "valid")
MODES = [
    ChartOptions(log_y=log_y, x_axis=x_axis, smoothing=smoothing)
    for log_y in (False, True)
    for x_axis in ("step", "time")
    for smoothing in (0.0, 0.9)
]


class ChartsApp(App):
    """A bare app holding one chart pane."""

    def compose(self) -> ComposeResult:
        yield ChartPane()


def test_curve_keeps_every_finite_point_in_every_mode():
    rng = random.Random(15)
    for trial in range(60):
        state = random_state(rng, f"run{trial}")
        for options in MODES:
            for metric, phase in state.series:
                xs, ys = state.series[metric, phase].arrays(options.x_axis, t0=state.first_t)
                finite = np.isfinite(ys) & np.isfinite(xs)
                x, y = curve(state, metric, phase, options, width=10**6)
                assert np.isfinite(x).all() and np.isfinite(y).all()
                expected = xs[finite & (ys > 0)] if options.log_y and not options.smoothing else xs[finite]
                if options.log_y and options.smoothing:
                    assert len(x) <= finite.sum()
                else:
                    assert np.array_equal(x, expected), (metric, phase, options)


async def test_charts_never_crash_on_extreme_values_in_any_mode():
    rng = random.Random(2026)
    app = ChartsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChartPane)
        for trial in range(8):
            runs = [(f"run-{trial}-{k}", random_state(rng, f"run-{trial}-{k}")) for k in range(rng.choice((1, 3)))]
            for options in MODES:
                pane.options = options
                await pane.redraw(runs)
                await pilot.pause()
        assert pane.query(MetricChart)


async def test_a_run_with_non_finite_and_huge_values_is_drawn_and_says_what_it_hid(tmp_path: Path):
    run_dir = write_run(tmp_path, [1.0, None, 1.7e308, -1.7e308, None, 2.0, -0.0])
    app = XaxTui(run_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)
        chart = next(c for c in app.screen.query(MetricChart) if c.metric == "loss")
        assert margin_text(chart, "top")[0].startswith("loss · 2 not finite, not drawn")
        assert [len(d.x) for d in chart._datasets] == [1, 2, 2]  # the line breaks at each gap
        assert [label for label in chart._labels if label] == ["train"]
        labels = [line.strip() for line in margin_text(chart, "left") if line.strip()]
        assert labels and all(label.endswith("e308") or label == "0" for label in labels), labels
        await pilot.press("l")
        await wait_for(pilot, lambda: "4 not positive or finite" in margin_text(chart, "top")[0])
        for key in ("x", "m", "l"):
            await pilot.press(key)
            await wait_for(pilot, lambda: app.screen.is_settled)
        assert [len(d.x) for d in chart._datasets] == [1, 2, 2]


def colliding_run_ids(count: int) -> list[str]:
    """``count`` run ids of which the first two prefer the same color (found by walking candidate ids)."""
    candidates = [f"20261201-{i:06d}-cafe" for i in range(200)]
    first = candidates[0]
    twin = next(c for c in candidates[1:] if run_color(c) == run_color(first))
    return [first, twin, *[c for c in candidates[1:] if c != twin][: count - 2]]


def test_compare_colors_differ_and_stay_with_the_run():
    ids = colliding_run_ids(len(PALETTE))
    colors = run_colors(ids)
    assert len(set(colors.values())) == len(PALETTE)
    assert colors[ids[0]] == run_color(ids[0]) and run_colors(ids) == colors
    alone = [i for i in ids if run_colors([i])[i] == colors[i]]
    assert len(alone) >= len(PALETTE) // 2


async def test_compared_runs_get_distinct_train_and_valid_colors(tmp_path: Path):
    ids = colliding_run_ids(4)
    dirs = [write_run(tmp_path, [1.0 / (k + i + 1) for i in range(20)], run_id=r) for k, r in enumerate(ids)]
    app = XaxTui(tmp_path)
    app.call_later(lambda: app.show_runs(dirs))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and len(app.screen.sessions) == 4)
        await wait_for(pilot, lambda: app.screen.is_settled and all(s.state.finished for s in app.screen.sessions))
        chart = next(c for c in app.screen.query(MetricChart) if c.metric == "loss")
        await wait_for(pilot, lambda: len(chart._datasets) == 4)
        styles = [d.line_style for d in chart._datasets]
        assert len(set(styles)) == 4, styles


async def test_a_bad_filter_regex_says_invalid_regex(tmp_path: Path):
    run_dir = write_run(tmp_path, [1.0, 0.5, 0.25])
    app = XaxTui(run_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"loss[", "enter")
        line = app.screen.query_one("#chart-options", Static)
        await wait_for(pilot, lambda: "invalid regex" in str(line.render()))
        text = str(line.render())
        assert "no metrics yet" not in text and "no metric matches the filter" in text and "loss[" in text


async def test_a_one_point_chart_shows_its_point_and_distinct_labels(tmp_path: Path):
    run_dir = write_run(tmp_path, [0.75])
    app = XaxTui(run_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)
        chart = next(c for c in app.screen.query(MetricChart) if c.metric == "loss")
        y_labels = [line.strip() for line in margin_text(chart, "left") if line.strip()]
        assert len(y_labels) >= 2 and len(set(y_labels)) == len(y_labels), y_labels
        x_labels = margin_text(chart, "bottom")[0].split()
        assert "1" in x_labels and len(set(x_labels)) == len(x_labels), x_labels
        plot = chart.query_one("#plot")
        drawn = "".join(s.text for s in plot.render_lines(Region(0, 0, plot.size.width, plot.size.height)))
        assert "●" in drawn


async def test_a_run_failing_before_its_first_metric_says_why_in_full(tmp_path: Path):
    run_dir = tmp_path / "mnist" / "20261201-000000-dead"
    run_dir.mkdir(parents=True)
    reason = "run failed at step 3: FloatingPointError: loss is nan (traceback in /some/long/path/stdout.log)"
    events = [
        {"kind": "run_start", "run_id": run_dir.name, "task": "t:T", "run_dir": str(run_dir), "config": {}},
        {"kind": "log", "level": "error", "message": reason},
        {"kind": "status", "state": "failed", "reason": "FloatingPointError: loss is nan", "step": 3},
    ]
    lines = [json.dumps({"v": 1, "seq": seq, "t": 1764547200.0} | ev) for seq, ev in enumerate(events)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    app = XaxTui(run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.drawn.is_set())
        line = str(app.screen.query_one("#chart-options", Static).render())
        assert "failed before logging a metric: FloatingPointError: loss is nan" in line, line
        pane = app.screen.query_one(LogPane)
        await wait_for(pilot, lambda: len(pane.lines) >= 2)
        shown = "".join(strip.text.strip() for strip in pane.lines).replace(" ", "")
        assert "error" in shown and reason.replace(" ", "") in shown, shown
