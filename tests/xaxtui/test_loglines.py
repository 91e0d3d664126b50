"""One line per shown event, and engine stderr lines that echo an event dropped whichever arrives first."""

import math

from xaxtui.loglines import echoes_event, engine_text, event_line
from xaxtui.state import RunState, add_engine_line, fold


def _ev(seq: int, kind: str, **fields: object) -> dict:
    return {"v": 1, "seq": seq, "t": 1000.0 + seq, "kind": kind, **fields}


def _texts(state: RunState) -> list[str]:
    return [message for _, _, message in state.logs]


def test_event_lines_of_each_shown_kind_and_odd_input():
    assert event_line(_ev(0, "log", level="WARN", message="slow")) == ("warning", "slow")
    assert event_line(_ev(0, "status", state="failed", reason="nan", step=3)) == (
        "error",
        "status failed at step 3: nan",
    )
    ckpt = _ev(0, "checkpoint", step=100, bytes=123456, save_s=0.05)
    assert event_line(ckpt) == ("info", "checkpoint at step 100 (123.5 kB, 0.05s)")  # as the checkpoint table says
    from xaxtui.widgets.checkpoints import decimal_bytes as table_size

    assert table_size(123456) == "123.5 kB"
    failed = event_line(_ev(0, "checkpoint_failed", step=200, reason="disk full", last_good_step=100))
    assert failed == ("error", "checkpoint at step 200 failed: disk full (last good: step 100)")
    assert event_line(_ev(0, "scalars", step=1, values={})) is None
    for odd in (_ev(0, "checkpoint", bytes="x"), _ev(0, "status"), _ev(0, "checkpoint_failed"), _ev(0, "log")):
        assert isinstance(event_line(odd), tuple)


def test_engine_text_and_echoes():
    assert engine_text("12:00:01 INFO: compiled the train_step in 0.52s") == "compiled the train_step in 0.52s"
    assert engine_text("WARNING slow disk") == "slow disk"
    assert engine_text("Traceback (most recent call last):") == "Traceback (most recent call last):"
    for echo in ("step 5 train loss=0.1", "status running at step 0", "checkpoint at step 9 (1.0 MB, 0.1s)"):
        assert echoes_event(echo), echo
    assert not echoes_event("step 100") and not echoes_event("ValueError: bad")


def test_a_message_on_stderr_and_as_event_is_one_line_whichever_comes_first():
    first_event = fold(RunState(), [_ev(0, "log", level="info", message="layout single_device")])
    add_engine_line(first_event, 2000.0, "info", "12:00:01 INFO: layout single_device")
    assert _texts(first_event) == ["layout single_device"] and first_event.logs_rewrites == 0

    first_line = add_engine_line(RunState(), 2000.0, "info", "12:00:01 INFO: layout single_device")
    assert _texts(first_line) == ["layout single_device"]
    fold(first_line, [_ev(0, "log", level="info", message="layout single_device")])
    assert list(first_line.logs) == list(first_event.logs) and first_line.logs_rewrites == 1


def test_stderr_lines_that_are_no_event_stay_and_echoes_go():
    state = fold(RunState(), [_ev(0, "status", state="running", step=0)])
    for line in ("12:00:01 INFO: status running at step 0", "12:00:02 INFO: step 5 train loss=0.1", "", "Traceback"):
        add_engine_line(state, 2000.0, "error", line)
    add_engine_line(state, 2000.0, "error", "ValueError: bad")
    assert _texts(state) == ["status running at step 0", "Traceback", "ValueError: bad"]


def _stream(n: int = 100) -> list[dict]:
    events = [_ev(0, "run_start", run_id="r", max_steps=n)]
    for step in range(1, n + 1):
        events.append(_ev(len(events), "scalars", step=step, phase="train", values={"loss": 1 / step}))
        if step % 25 == 0:
            events.append(_ev(len(events), "scalars", step=step, phase="valid", values={"loss": 2 / step}))
            events.append(_ev(len(events), "checkpoint", step=step, bytes=1e6, save_s=0.1))
    return [*events, _ev(len(events), "status", state="finished", step=n)]


def test_step_lines_are_the_same_however_the_events_are_batched():
    events = _stream()
    whole = fold(RunState(), events)
    piecewise = RunState()
    for start in range(0, len(events), 7):
        fold(piecewise, events[start : start + 7])
    assert list(whole.logs) == list(piecewise.logs)
    texts = _texts(whole)
    assert texts[:2] == ["step 1 train loss=1", "step 5 train loss=0.2"]  # every max_steps // 20 steps
    assert sum(t.startswith("step ") and " train " in t for t in texts) == 21
    assert texts.index("step 25 valid loss=0.08") < texts.index("checkpoint at step 25 (1.0 MB, 0.10s)")
    assert texts[-1] == "status finished at step 100"


def test_odd_scalars_get_no_crash():
    state = fold(RunState(), [_ev(0, "scalars", phase="train", values=None)])
    state.book.step_lines({"train": [_ev(1, "scalars", step=float("nan")), _ev(1, "scalars", step=math.inf)]}, None)
    fold(state, [_ev(2, "scalars", step=3, phase="train", values={"loss": None, "flag": True})])
    assert _texts(state) == ["step 3 train loss=nan flag=nan"]
