"""The data-bound flag says what to change: ``data.num_workers``, with the pool's numbers from ``stats`` events."""

import json
from pathlib import Path

from tests.xaxtui.conftest import RUN_A, wait_for
from xaxengine.protocol import make_event
from xaxtui.app import XaxTui
from xaxtui.data_advice import data_bound_advice
from xaxtui.screens.run import RunScreen
from xaxtui.state import RunState, fold
from xaxtui.widgets.header import RunHeader

POOL = {"path": "grain", "workers": 2, "prefetch": 2, "batches_per_s": 30.0, "examples_per_s": 1920.0}
TIMING = {"steps_per_s": 30.0, "samples_per_s": 1920.0, "step_ms": 2.0, "data_wait_frac": 0.6, "step_frac": 0.35}


def _stats(seq: int, data: dict | None, process: int = 0) -> dict:
    extra = {"data": data} if data is not None else {}
    return make_event(seq, "stats", t=1000.0 + seq, cpu_percent=90.0, rss_bytes=1e9, gpus=[], process=process, **extra)


def test_starved_workers_are_told_to_grow_with_their_numbers():
    pool = {**POOL, "queue": 0, "busy_frac": 0.97}
    assert data_bound_advice(pool, {}) == "raise data.num_workers (now 2, 0 batches ready, workers 97% busy)"


def test_workers_that_keep_batches_ready_are_not_blamed():
    advice = data_bound_advice({**POOL, "queue": 12, "busy_frac": 0.2}, {})
    assert advice.startswith("not the workers (now 2, 12 batches ready, workers 20% busy)")
    assert "data.num_workers will not help" in advice


def test_without_a_pool_the_configured_worker_count_is_named():
    run_start = {"config": {"data": {"num_workers": 0, "batch_size": 64}}}
    assert data_bound_advice({}, run_start) == "raise data.num_workers (now 0)"
    assert data_bound_advice({}, {}) == "raise data.num_workers"


def test_the_fold_keeps_process_zeros_pool_only():
    state = fold(RunState(), [_stats(0, {**POOL, "queue": 3}), _stats(1, {**POOL, "queue": 9}, process=1)])
    assert state.pool["queue"] == 3
    fold(state, [_stats(2, None)])  # a sample without a pool (before the loader opened) keeps the last one
    assert state.pool["queue"] == 3


async def test_header_of_a_data_bound_run_names_num_workers_and_the_queue(tmp_path: Path):
    run_dir = tmp_path / "mnist" / "starved"
    run_dir.mkdir(parents=True)
    lines = (RUN_A / "events.jsonl").read_text().splitlines()
    seq = json.loads(lines[-1])["seq"]
    timing = make_event(seq + 1, "scalars", t=1764050400.0, step=300, phase="timing", values=TIMING)
    stats = _stats(seq + 2, {**POOL, "queue": 0, "busy_frac": 0.99})
    lines += [json.dumps(timing), json.dumps(stats)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    app = XaxTui(run_dir)
    async with app.run_test(size=(200, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        header = app.screen.query_one(RunHeader)
        expected = "DATA-BOUND 60% data wait: raise data.num_workers (now 2, 0 batches ready, workers 99% busy)"
        await wait_for(pilot, lambda: expected in str(header.render()))
