"""Charts tell the truth: tick labels that fit and read as the values, for any value a run can log."""

import json
from pathlib import Path

from conftest import wait_for
from textual.geometry import Region

from xaxtui.app import XaxTui
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.axes import (
    LABEL_WIDTH,
    CompactFormatter,
    ElapsedFormatter,
    LogFormatter,
    compact_labels,
    nice_ticks,
)
from xaxtui.widgets.charts import MetricChart


def write_run(root: Path, values: list[float], metric: str = "loss", dt: float = 1.0) -> Path:
    """A finished recorded run whose train ``metric`` takes ``values`` at steps 1, 2, ..."""
    run_dir = root / "mnist" / "20261201-000000-beef"
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
