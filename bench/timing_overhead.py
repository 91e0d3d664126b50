"""Cost of the step-time breakdown: engine steps/s with ``profile.timing`` on, divided by steps/s with it off.

Every run trains the digits MLP (hidden 256, depth 2, batch 128: ~0.9 ms steps on 2 cores, so per-step host work
weighs as much as it ever will) with stats sampling, TensorBoard, validation and checkpoints off, so the two
variants differ only in the breakdown. Steps/s is measured from the ``status: running`` event to the
``status: finished`` event (compilation excluded).

- Wall clock: 3 fresh processes each train 8 on/off pairs back to back in ABBA order (:func:`interleaved_worker`);
  the result is the median of the 24 per-pair ratios. Separate processes minutes apart drifted by several percent
  on this shared machine, more than the effect; adjacent runs in one process drift far less.
- Cost accounting: 3 more runs measure the CPU time of everything the breakdown adds (:func:`cost_worker`) and
  report ``ratio_from_cost`` = step time / (step time + that cost per step), which load hardly moves.

Results: bench/results/timing_overhead.json. Target: ratio >= 0.99.

    python bench/timing_overhead.py [--repeats 8] [--steps 3000]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.alternate import alternate  # noqa: E402

RESULTS = REPO / "bench" / "results" / "timing_overhead.json"


def interleaved_worker(steps: int, pairs: int) -> None:
    """Trains ``2 * pairs`` times in this one process, on and off in turn (ABBA order), seconds apart.

    Adjacent runs share the process, its warm caches and nearly the same moment of machine load, so their ratio
    holds less drift than runs in separate processes minutes apart. Prints the per-pair ratios.
    """
    ratios = []
    for pair in range(pairs):
        order = ("true", "false") if pair % 2 == 0 else ("false", "true")
        runs = {timing: train_once(timing, steps) for timing in order}
        assert runs["true"]["timing_events"] > 0 and runs["false"]["timing_events"] == 0
        ratios.append(runs["true"]["steps_per_s"] / runs["false"]["steps_per_s"])
    print(json.dumps({"ratios": ratios}))


def train_once(timing: str, steps: int) -> dict:
    """One training run of the digits MLP with the breakdown on (``"true"``) or off: its steps/s and timing values."""
    from xaxengine.config import load_run_spec
    from xaxengine.protocol import read_events

    with tempfile.TemporaryDirectory() as runs:
        overrides = [
            f"train.max_steps={steps}",
            "train.log_every_n_steps=50",
            "train.valid_every_n_steps=0",
            "checkpoint.save_every_n_steps=0",
            "stats.enabled=false",
            "logger.tensorboard=false",
            "logger.progress='plain'",
            f"profile.timing={timing}",
            f"artifacts.runs_dir={json.dumps(runs)}",
            "artifacts.run_id='bench'",
        ]
        spec = load_run_spec(REPO / "tasks" / "mnist.toml", overrides)
        code = spec.task_cls.launch(spec.config)
        assert code == 0, code
        events = list(read_events(Path(runs) / "mnist" / "bench" / "events.jsonl"))
        status = {e["state"]: e for e in events if e["kind"] == "status"}
        seconds = status["finished"]["t"] - status["running"]["t"]
        timing = [e["values"] for e in events if e["kind"] == "scalars" and e["phase"] == "timing"]
        return {
            "steps_per_s": (steps - status["running"]["step"]) / seconds,
            "timing_events": len(timing),
            "timing": timing,
        }


def clock_cost_s() -> float:
    """Seconds per step that the breakdown's clock reads add to the loop (timed against the ``int`` stand-in)."""
    import timeit

    loop = "t0 = c(); t1 = c(); s += c() - t1; d += t1 - t0"
    on = min(timeit.repeat(loop, "import time; c = time.perf_counter; s = d = 0.0", number=200_000, repeat=5))
    off = min(timeit.repeat(loop, "c = int; s = d = 0.0", number=200_000, repeat=5))
    return max(0.0, on - off) / 200_000


def cost_worker(steps: int) -> None:
    """One run with the breakdown on, accounting the CPU time of everything it adds; prints the totals as JSON.

    Counted with per-thread CPU clocks: closing each interval (``StepTimer.interval``, ``timing_values``), emitting
    the timing event on the main thread (``log_scalars``: JSONL encode and write), and handing it to the other
    backends on the writer thread (``EventBus._fan_out``). Plus the clock reads per step, from :func:`clock_cost_s`.
    Compared with the measured step time, this bounds the slowdown without the run-to-run noise of wall time.
    """
    from xaxengine.task import trainer
    from xaxengine.task.loggers.base import EventBus
    from xaxengine.task.mixins import logger as logger_mixin
    from xaxengine.task.mixins import step_context

    spent = {"main": 0.0, "writer": 0.0}

    def counted(fn, where, only_timing=None):
        def wrapper(*args, **kwargs):
            if only_timing is not None and not only_timing(args, kwargs):
                return fn(*args, **kwargs)
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[where] += time.thread_time() - start

        return wrapper

    step_context.StepTimer.interval = counted(step_context.StepTimer.interval, "main")
    trainer.Trainer._timing_values = counted(trainer.Trainer._timing_values, "main")
    logger_mixin.LoggerMixin.log_scalars = counted(
        logger_mixin.LoggerMixin.log_scalars, "main", lambda a, k: a[2] == "timing"
    )
    EventBus._fan_out = counted(EventBus._fan_out, "writer", lambda a, k: a[1].get("phase") == "timing")
    timing = train_once("true", steps)["timing"]
    seconds_per_step = statistics.median(1 / v["steps_per_s"] for v in timing[1:])
    clocks = clock_cost_s()
    per_step = (spent["main"] + spent["writer"]) / steps + clocks
    print(
        json.dumps(
            {
                "main_thread_cpu_s": spent["main"],
                "writer_thread_cpu_s": spent["writer"],
                "clock_cost_per_step_s": clocks,
                "cost_per_step_s": per_step,
                "step_wall_s": seconds_per_step,
                "ratio_from_cost": seconds_per_step / (seconds_per_step + per_step),
            }
        )
    )


def main() -> None:
    """Alternates the two variants and writes the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=8, help="interleaved worker: on/off pairs per process")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    if args.worker == "cost":
        cost_worker(args.steps)
        return
    if args.worker == "interleaved":
        interleaved_worker(args.steps, args.repeats)
        return
    workers = alternate(
        __file__, {"interleaved": "interleaved"}, ["--steps", str(args.steps), "--repeats", str(args.repeats)], 3
    )
    ratios = [r for w in workers["interleaved"] for r in w["ratios"]]
    cost = alternate(__file__, {"cost": "cost"}, ["--steps", str(args.steps)], 3)["cost"]
    result = {
        "benchmark": "timing_overhead",
        "ratio_median": statistics.median(ratios),
        "ratio_quartiles": statistics.quantiles(ratios, n=4),
        "ratio_from_cost_median": statistics.median(c["ratio_from_cost"] for c in cost),
        "cost_per_step_us_median": 1e6 * statistics.median(c["cost_per_step_s"] for c in cost),
        "cost_runs": cost,
        "ratios": ratios,
        "pairs": len(ratios),
        "steps": args.steps,
        "target": 0.99,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    keys = ("ratio_median", "ratio_quartiles", "ratio_from_cost_median", "cost_per_step_us_median")
    print(json.dumps({k: result[k] for k in keys}))


if __name__ == "__main__":
    main()
