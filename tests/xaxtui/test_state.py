"""Unit tests of the pure event fold (no textual)."""

import math

from xaxengine.protocol import make_event
from xaxtui.state import RunState, Series, fold
from xaxtui.widgets.header import header_text


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


def _run_start(seq: int, resumed: int | None) -> dict:
    return make_event(
        seq, "run_start", t=1000.0 + seq, run_id="r1", task="t:T", max_steps=200, resumed_from_step=resumed
    )


def _killed_then_resumed(resumed: int) -> list[dict]:
    """Steps 1..137 (valid every 10), killed, resumed from ``resumed``: steps ``resumed+1``..150 logged again."""
    events = [_run_start(0, None)]
    for step in range(1, 138):
        events.append(_scalars(len(events), step, 1.0))
        if step % 10 == 0:
            events.append(_scalars(len(events), step, 2.0, phase="valid"))
    events.append(make_event(len(events), "status", t=2000.0, state="interrupted", reason=None, step=137))
    events.append(_run_start(len(events), resumed))
    for step in range(resumed + 1, 151):
        events.append(_scalars(len(events), step, 0.5))
        if step % 10 == 0:
            events.append(_scalars(len(events), step, 0.25, phase="valid"))
    return events


def _check_resumed(state: RunState, resumed: int) -> None:
    train = state.series["loss", "train"]
    assert train.steps == list(range(1, 151))
    assert train.values == [1.0] * resumed + [0.5] * (150 - resumed)
    assert train.times == sorted(train.times)
    valid = state.series["loss", "valid"]
    assert valid.steps == list(range(10, 151, 10))
    assert valid.values == [2.0] * (resumed // 10) + [0.25] * (15 - resumed // 10)
    assert state.step == 150 and state.run_start["resumed_from_step"] == resumed
    assert state.eta_s() == (200 - 150) / 10.0


def test_resume_replaces_relogged_steps_in_one_batch_or_many():
    for resumed in (120, 100):  # 100: the newest checkpoint (120) was unreadable, an older one was restored
        events = _killed_then_resumed(resumed)
        _check_resumed(fold(RunState(), events), resumed)
        state = RunState()
        for i in range(0, len(events), 7):
            fold(state, events[i : i + 7])
        _check_resumed(state, resumed)


def test_resume_without_run_start_in_view_still_replaces():
    events = [e for e in _killed_then_resumed(120) if e["kind"] == "scalars"]
    state = fold(RunState(), events)
    assert state.series["loss", "train"].steps == list(range(1, 151))
    assert state.series["loss", "train"].values[119:121] == [1.0, 0.5]
    assert state.series["loss", "valid"].steps == list(range(10, 151, 10))


def test_run_start_truncates_at_once_and_step_goes_back():
    events = _killed_then_resumed(120)
    cut = next(i for i, e in enumerate(events) if e.get("resumed_from_step") == 120)
    state = fold(RunState(), events[: cut + 1])
    assert state.step == 120 and not state.finished
    assert state.series["loss", "train"].steps[-1] == 120
    assert state.series["loss", "valid"].steps[-1] == 120


def test_resume_truncates_bucketed_history():
    state = RunState(recent=100)
    fold(state, (_scalars(i, i, float(i)) for i in range(1, 5001)))
    series = state.series["loss", "train"]
    assert series.old_steps and series.steps[0] > 1000
    fold(state, [_run_start(5001, 1000), *(_scalars(5002 + i, 1001 + i, -1.0) for i in range(10))])
    xs, ys = series.arrays()
    assert list(xs) == sorted(xs) and xs[-1] == 1010
    assert ys[-10:].tolist() == [-1.0] * 10
    assert max(x for x, y in zip(xs, ys, strict=True) if y != -1.0) <= 1000
    assert max(ys) < 1000 + series.bucket


def _timing(seq: int, step: int, data_wait: float, **extra: float) -> dict:
    values = {"steps_per_s": 400.0, "samples_per_s": 51200.0, "step_ms": 2.0, "data_wait_frac": data_wait, **extra}
    return make_event(seq, "scalars", t=1000.0 + seq, step=step, phase="timing", values=values)


def test_timing_breakdown_is_kept_for_the_header_not_charted_and_flags_data_bound_runs():
    state = fold(RunState(), [_scalars(0, 10, 1.0), _timing(1, 10, 0.05)])
    assert state.metrics() == ["loss"] and not [key for key in state.series if key[1] == "timing"]
    assert state.timing["step_ms"] == 2.0 and not state.data_bound
    compile_event = make_event(2, "compile", t=1002.0, name="train_step", compile_s=1.5, flops=1e9, peak_flops=None)
    fold(state, [compile_event, _timing(3, 20, 0.35, mfu=0.41)])
    assert state.data_bound and state.timing["mfu"] == 0.41 and state.unknown == 0
    assert state.compiles["train_step"]["flops"] == 1e9


def test_header_step_rate_is_smoothed_and_shows_the_run_mean():
    events = [{"seq": 0, "t": 0.0, "kind": "run_start", "run_id": "r", "config": {}, "resumed_from_step": 100}]
    for i in range(40):
        rate = 100.0 if i % 2 else 300.0
        event = {"seq": i + 1, "t": i + 1.0, "kind": "scalars", "step": 100 + 10 * (i + 1), "phase": "train"}
        events.append(event | {"values": {"loss": 1.0}, "steps_per_s": rate, "elapsed_s": 2.0 * (i + 1)})
    state = fold(RunState(), events)
    text = header_text(state).plain
    assert "100.0 steps/s" not in text and "300.0 steps/s" not in text, text
    smooth = float(text.split(" steps/s")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert 150 < smooth < 250 and "(mean 5.0)" in text, text
