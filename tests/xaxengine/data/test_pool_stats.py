"""The worker pool in ``stats`` events: its rate, how busy it is, and the batches it has ready (real engine runs)."""

import numpy as np

from tests.conftest import run_engine
from tests.xaxengine.data.kill_resume import events, run_dir_of
from xaxengine.data.pool_stats import CountedMaker, PoolCounters, PoolStats

TOML = "tests/xaxengine/data/augment.toml"


def test_a_loop_slower_than_the_workers_shows_their_rate_and_a_full_queue(runs_dir):
    args = ("train.max_steps=40", "step_sleep_s=0.05", "stats.interval_s=0.2", "checkpoint.save_every_n_steps=0")
    proc = run_engine("run", TOML, *args, "--runs-dir", str(runs_dir), "--run-id", "p")
    assert proc.returncode == 0, proc.stderr
    samples = [e["data"] for e in events(run_dir_of(runs_dir, "p")) if e["kind"] == "stats" and "data" in e]
    assert len(samples) >= 3, "too few stats samples while the loop ran"
    assert {s["workers"] for s in samples} == {2} and {s["path"] for s in samples} == {"grain"}
    rated = [s for s in samples if s["batches_per_s"] is not None]
    assert rated and all(s["examples_per_s"] == 64 * s["batches_per_s"] for s in rated)
    assert any(s["batches_per_s"] > 0 and s["build_ms"] > 0 for s in rated)
    assert all(0.0 <= s["busy_frac"] <= 1.0 for s in rated)
    # The loop sleeps 50 ms a step; the workers build a batch in a few: they fill their buffers and wait.
    assert max(s["queue"] for s in samples) >= 2


def test_the_in_memory_path_has_no_pool_field(runs_dir):
    args = ("train.max_steps=100", "stats.interval_s=0.1", "checkpoint.save_every_n_steps=0")
    proc = run_engine("run", "tests/fixtures/tasks/tiny.toml", *args, "--runs-dir", str(runs_dir), "--run-id", "m")
    assert proc.returncode == 0, proc.stderr
    stats = [e for e in events(run_dir_of(runs_dir, "m")) if e["kind"] == "stats"]
    assert len(stats) >= 2 and not any("data" in e for e in stats)


def test_queue_is_built_minus_taken_and_rates_cover_the_interval():
    counters = PoolCounters(2)
    taken = [0]
    stats = PoolStats(counters, 2, 3, lambda: taken[0])
    maker = CountedMaker(lambda k: {"x": np.full(4, k)}, counters, 10, 4)
    first = stats.sample()
    assert first["queue"] == 0 and first["batches_per_s"] is None
    for k in range(10, 15):  # worker 0 builds 10, 12, 14; worker 1 builds 11, 13
        maker(k)
    taken[0] = 2
    second = stats.sample()
    assert second["queue"] == 3
    assert second["examples_per_s"] == 4 * second["batches_per_s"] > 0
    np.testing.assert_array_equal(np.asarray(counters.table())[:, :2], [[3, 12], [2, 8]])
    counters.remove()
