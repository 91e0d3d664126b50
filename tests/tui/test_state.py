"""Unit tests of the pure event fold (no textual)."""

import math

from xaxengine.protocol import make_event
from xaxtui.state import RunState, Series, fold


def _scalars(seq: int, step: int, loss: float | None, phase: str = "train", **extra: float) -> dict:
    values = {"loss": loss, **extra}
    return make_event(
        seq,
        "scalars",
        t=1000.0 + seq,
        step=step,
        phase=phase,
        values=values,
        samples_per_s=64.0,
        steps_per_s=10.0,
        elapsed_s=float(seq),
    )


def test_fold_series_status_checkpoints_logs():
    events = [
        make_event(0, "run_start", t=1000.0, run_id="r1", task="tasks.mnist:MnistTask", max_steps=100),
        make_event(1, "status", t=1000.5, state="running", reason=None, step=0),
        _scalars(2, 10, 1.0),
        _scalars(3, 10, 2.0, phase="valid"),
        _scalars(4, 20, None, accuracy=0.5),
        make_event(5, "checkpoint", t=1006.0, step=20, path="c/20", bytes=1000, save_s=0.1, kept=[20]),
        make_event(6, "log", t=1007.0, level="warning", message="careful"),
        make_event(
            7,
            "stats",
            t=1008.0,
            cpu_percent=50.0,
            rss_bytes=1e9,
            mem_percent=1.0,
            gpus=[{"index": 0, "name": "H100", "util_percent": 90.0, "mem_used_bytes": 1e9, "mem_total_bytes": 8e10}],
        ),
        make_event(8, "brand_new_kind", t=1009.0),
    ]
    state = fold(RunState(), events)
    assert state.run_id == "r1" and state.max_steps == 100 and state.status == "running"
    assert state.step == 20 and state.last_seq == 8 and state.events == 9 and state.unknown == 1
    assert state.metrics() == ["loss", "accuracy"]
    assert state.phases("loss") == ["train", "valid"]
    xs, ys = state.series["loss", "train"].arrays()
    assert xs.tolist() == [10, 20] and ys[0] == 1.0 and math.isnan(ys[1])
    assert state.series["accuracy", "train"].steps == [20]
    assert state.kept == [20] and state.checkpoints[0]["step"] == 20
    assert state.logs[-1][1:] == ("warning", "careful")
    assert state.gpus[0].name == "H100" and list(state.cpu) == [50.0]
    assert state.eta_s() == (100 - 20) / 10.0


def test_fold_skips_duplicate_seq_and_terminal_status():
    state = fold(RunState(), [_scalars(0, 1, 1.0), _scalars(1, 2, 0.5)])
    fold(state, [_scalars(1, 2, 0.5), _scalars(2, 3, 0.25), make_event(3, "status", state="finished", step=3)])
    assert state.series["loss", "train"].values == [1.0, 0.5, 0.25]
    assert state.finished and math.isnan(state.eta_s())


def test_series_memory_is_bounded_and_keeps_extremes():
    state = RunState(recent=100)
    n = 200_000
    fold(state, (_scalars(i, i, float(i % 1000)) for i in range(n)))
    series = state.series["loss", "train"]
    assert len(series.values) < 200 and len(series.old_steps) <= series.max_buckets
    xs, ys = series.arrays()
    assert xs[0] == 0 and xs[-1] == n - 1
    assert max(ys) == 999.0 and min(ys) == 0.0
    assert list(xs) == sorted(xs)


def test_series_time_axis():
    s = Series(steps=[1, 2], times=[10.0, 11.0], values=[1.0, 2.0])
    xs, _ = s.arrays(x="time", t0=10.0)
    assert xs.tolist() == [0.0, 1.0]
