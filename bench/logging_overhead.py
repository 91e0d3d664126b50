"""Logging overhead: engine steps/s with every backend on and heavy logs, divided by steps/s with minimal logging.

Both configurations train the digits MLP (hidden 512, depth 2, batch 256) in this same process, alternating, after
one warm-up run; the driver reports the median ratio and its spread. Steps/s is measured in the task, from the
``status: running`` emit to the ``status: finished`` emit (compilation excluded; log_heavy and draining the writer
thread included). On a shared machine wall time is noisy, so the JSON also holds process-tree CPU time per step
(the W&B service process included) and its ratio, and the CPU time of the logging side alone (Python threads
other than the main one, and child processes): ``logging_side_cpu_ratio`` = minimal CPU per step / (that + the
extra logging-side CPU per step of the full run), the slowdown if logging work ran serially with training.

- full: JSONL + TensorBoard + stdout (plain lines) + W&B offline (when installed) + stats sampling at 1 Hz, and a
  histogram of the first layer's weights plus a 16-image grid every 100 steps.
- minimal: JSONL only; no stats, no heavy logs.

Results: bench/results/logging_overhead.json. Target: ratio >= 0.97.

    python bench/logging_overhead.py [--repeats 5] [--steps 3000]
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from tasks.mnist import MnistTask  # noqa: E402
from xaxengine.config import load_run_spec  # noqa: E402
from xaxengine.protocol import read_events  # noqa: E402

HEAVY_EVERY = 100


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of the process tree, and of its logging side alone.

    The logging side is every Python thread but the main one (the event bus's writer, the stats sampler,
    tensorboardX's and W&B's threads; XLA's compute threads are not Python threads) plus every child process
    (the W&B service). It is an estimate of logging cost that other load on the machine hardly disturbs.
    """
    me = psutil.Process()
    python_threads = {t.native_id for t in threading.enumerate() if t is not threading.main_thread()}
    total = sum(me.cpu_times()[:2])
    side = sum(t.user_time + t.system_time for t in me.threads() if t.id in python_threads)
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            used = sum(child.cpu_times()[:2])
            total, side = total + used, side + used
    return total, side


class HeavyMnistTask(MnistTask):
    """The digits task logging a weight histogram and an image grid in every ``log_heavy``.

    It also notes wall time and process-tree CPU time when training starts running and when it finishes.
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.marks: dict[str, tuple[float, float, float]] = {}

    def emit_status(self, state: str, step: int, reason: str | None = None) -> None:
        if state == "finished":
            self.bus.flush()  # the backlog of the writer thread counts as logging time
        if state in ("running", "finished"):
            self.marks[state] = (time.perf_counter(), *cpu_seconds())
        super().emit_status(state, step, reason)

    def log_heavy(self, model: Any, batch: dict[str, np.ndarray], step: int) -> None:
        self.log_histogram(step, "weights/first", np.asarray(jax.tree_util.tree_leaves(model)[0]))
        self.log_images(step, "samples/digits", batch["image"][:16], ncols=4)


def _wandb_installed() -> bool:
    try:
        import wandb  # noqa: F401
    except ImportError:
        return False
    return True


def run_once(runs_dir: Path, steps: int, full: bool) -> dict[str, float]:
    """Trains once and returns steps/s (from the events) and the number of events of each kind."""
    overrides = [
        "hidden=512",
        "depth=2",
        "data.batch_size=256",
        f"train.max_steps={steps}",
        "train.log_every_n_steps=50",
        "train.valid_every_n_steps=0",
        "checkpoint.save_every_n_steps=0",
        "process.handle_signals=false",
        f"artifacts.runs_dir={json.dumps(str(runs_dir))}",
        f"train.log_heavy_every_n_steps={HEAVY_EVERY if full else 0}",
        f"stats.enabled={str(full).lower()}",
        f"logger.tensorboard={str(full).lower()}",
        f"logger.progress={'plain' if full else 'off'}",
        f"logger.wandb.enabled={str(full and _wandb_installed()).lower()}",
    ]
    spec = load_run_spec(REPO / "tasks" / "mnist.toml", overrides)
    task = HeavyMnistTask(spec.config)
    from xaxengine.launch_config import RunOptions

    assert task.run(RunOptions()) == 0
    events = list(read_events(task.run_dir / "events.jsonl"))
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    (wall0, cpu0, side0), (wall1, cpu1, side1) = task.marks["running"], task.marks["finished"]
    return {
        "steps_per_s": steps / (wall1 - wall0),
        "cpu_ms_per_step": 1000 * (cpu1 - cpu0) / steps,
        "logging_side_cpu_ms_per_step": 1000 * (side1 - side0) / steps,
        **{f"n_{k}": v for k, v in kinds.items()},
    }


def main() -> None:
    """Runs warm-up, then alternating minimal/full runs, and writes the JSON result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "logging_overhead.json"))
    args = parser.parse_args()
    started = time.time()
    runs: dict[str, list[dict[str, float]]] = {"minimal": [], "full": []}
    with tempfile.TemporaryDirectory() as tmp:
        run_once(Path(tmp), min(args.steps, 500), full=True)  # warm-up: imports, W&B service, caches
        for i in range(args.repeats):
            for name in ("minimal", "full") if i % 2 == 0 else ("full", "minimal"):
                result = run_once(Path(tmp), args.steps, name == "full")
                runs[name].append(result)
                rate, cpu, side = (
                    result["steps_per_s"],
                    result["cpu_ms_per_step"],
                    result["logging_side_cpu_ms_per_step"],
                )
                print(f"repeat {i} {name}: {rate:.1f} steps/s, {cpu:.2f} CPU ms/step ({side:.3f} logging)", flush=True)
    full = [r["steps_per_s"] for r in runs["full"]]
    minimal = [r["steps_per_s"] for r in runs["minimal"]]
    ratios = [f / m for f, m in zip(full, minimal, strict=True)]
    cpu_full = statistics.median(r["cpu_ms_per_step"] for r in runs["full"])
    cpu_minimal = statistics.median(r["cpu_ms_per_step"] for r in runs["minimal"])
    side_full = statistics.median(r["logging_side_cpu_ms_per_step"] for r in runs["full"])
    side_minimal = statistics.median(r["logging_side_cpu_ms_per_step"] for r in runs["minimal"])
    result = {
        "benchmark": "logging_overhead",
        "ratio_median": statistics.median(full) / statistics.median(minimal),
        "ratio_pairs_median": statistics.median(ratios),
        "ratio_pairs_min": min(ratios),
        "ratio_pairs_max": max(ratios),
        "cpu_ratio_median": cpu_minimal / cpu_full,
        "logging_side_cpu_ratio": cpu_minimal / (cpu_minimal + side_full - side_minimal),
        "logging_side_cpu_ms_per_step": {"full": side_full, "minimal": side_minimal},
        "target": 0.97,
        "full_median_steps_per_s": statistics.median(full),
        "minimal_median_steps_per_s": statistics.median(minimal),
        "full_median_cpu_ms_per_step": cpu_full,
        "minimal_median_cpu_ms_per_step": cpu_minimal,
        "runs": runs,
        "config": {
            "model": "digits MLP 64-512-512-10",
            "batch_size": 256,
            "steps": args.steps,
            "repeats": args.repeats,
            "heavy_every_n_steps": HEAVY_EVERY,
            "wandb": _wandb_installed(),
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "jax_backend": jax.default_backend(),
            "load_avg_at_end": list(os.getloadavg()),
        },
        "wall_s": time.time() - started,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    keys = ("ratio_median", "ratio_pairs_median", "ratio_pairs_min", "ratio_pairs_max", "cpu_ratio_median")
    keys += ("logging_side_cpu_ratio",)
    print(json.dumps({k: result[k] for k in keys}), flush=True)


if __name__ == "__main__":
    main()
