"""Cost of the step-time breakdown: engine steps/s with ``profile.timing`` on, divided by steps/s with it off.

Each worker trains the digits MLP (hidden 256, depth 2, batch 128: ~0.4 ms steps on 2 cores, so per-step host work
weighs as much as it ever will) in a fresh subprocess, with stats sampling, TensorBoard, validation and checkpoints
off so the two variants differ only in the breakdown. Steps/s is measured from the ``status: running`` event to the
``status: finished`` event (compilation excluded). Variants alternate; the driver reports the median of the
per-pair ratios. Results: bench/results/timing_overhead.json. Target: ratio >= 0.99.

    python bench/timing_overhead.py [--repeats 7] [--steps 4000]
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


def worker(timing: str, steps: int) -> None:
    """Trains once and prints ``{"steps_per_s": ...}`` as the last stdout line."""
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
        timed = sum(1 for e in events if e["kind"] == "scalars" and e["phase"] == "timing")
        print(json.dumps({"steps_per_s": (steps - status["running"]["step"]) / seconds, "timing_events": timed}))


def main() -> None:
    """Alternates the two variants and writes the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=4000)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps)
        return
    samples = alternate(__file__, {"on": "true", "off": "false"}, ["--steps", str(args.steps)], args.repeats)
    assert all(s["timing_events"] > 0 for s in samples["on"]) and not any(s["timing_events"] for s in samples["off"])
    on = [s["steps_per_s"] for s in samples["on"]]
    off = [s["steps_per_s"] for s in samples["off"]]
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    result = {
        "benchmark": "timing_overhead",
        "ratio_median": statistics.median(ratios),
        "ratios": ratios,
        "steps_per_s_on": on,
        "steps_per_s_off": off,
        "steps_per_s_on_median": statistics.median(on),
        "steps_per_s_off_median": statistics.median(off),
        "steps": args.steps,
        "repeats": args.repeats,
        "target": 0.99,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ratio_median", "steps_per_s_on_median", "steps_per_s_off_median")}))


if __name__ == "__main__":
    main()
