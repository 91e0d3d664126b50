"""Does async checkpointing stall training? Steps/s with a checkpoint every 100 steps vs with checkpointing off.

The model is the benchmark MLP widened to 3584 (15.6M params, 62 MB; with Adam's two moments the saved state is
~190 MB). Each measurement runs in a fresh subprocess; the two settings alternate over several repeats and the
driver reports medians. Results: bench/results/checkpoint_stall.json.

    python bench/checkpoint_stall.py [--repeats 3] [--steps 600]
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HIDDEN = 3584
BATCH = 32


def measure(save_every: int, steps: int) -> dict[str, float]:
    """Trains in this process and returns steps/s over the loop plus checkpoint sizes and save times."""
    from bench.mlp_task import BenchConfig, BenchMlpTask
    from xaxengine.config import build_config
    from xaxengine.launch_config import RunOptions
    from xaxengine.protocol import read_events

    runs = tempfile.mkdtemp(prefix="xax-stall-")
    config = build_config(
        BenchConfig,
        {
            "hidden": HIDDEN,
            "train": {"max_steps": steps, "log_every_n_steps": 50, "valid_every_n_steps": 0},
            "data": {"batch_size": BATCH},
            "checkpoint": {"save_every_n_steps": save_every, "max_to_keep": 2, "async_save": True},
            "logger": {"tensorboard": False, "progress": "off"},
            "artifacts": {"runs_dir": runs, "run_id": "stall"},
        },
    )
    assert BenchMlpTask.launch(config, RunOptions()) == 0
    events = list(read_events(Path(runs) / "bench_mlp" / "stall" / "events.jsonl"))
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    ckpts = [e for e in events if e["kind"] == "checkpoint"]
    finished = next(e for e in events if e["kind"] == "status" and e["state"] == "finished")
    return {
        "steps_per_s": (train[-1]["step"] - train[0]["step"]) / (train[-1]["t"] - train[0]["t"]),
        "checkpoints": len(ckpts),
        "checkpoint_mb": statistics.median(c["bytes"] for c in ckpts) / 1e6 if ckpts else 0.0,
        "save_s": statistics.median(c["save_s"] for c in ckpts) if ckpts else 0.0,
        "wall_to_finish_s": finished["t"] - train[0]["t"],
    }


def main() -> None:
    """Alternates the two settings in subprocesses and writes the ratio of medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--worker", type=int, help="Internal: measure with this save interval (0 = off).")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "checkpoint_stall.json"))
    args = parser.parse_args()
    if args.worker is not None:
        sys.stdout.write(json.dumps(measure(args.worker, args.steps)) + "\n")
        return
    from bench.alternate import alternate

    samples = alternate(__file__, {"off": "0", "every_100": "100"}, ["--steps", str(args.steps)], args.repeats)
    off = statistics.median(s["steps_per_s"] for s in samples["off"])
    on = statistics.median(s["steps_per_s"] for s in samples["every_100"])
    result = {
        "model": f"MLP 784-{HIDDEN}-{HIDDEN}-10 (15.6M params, 62 MB), Adam, batch {BATCH}",
        "steps": args.steps,
        "repeats": args.repeats,
        "steps_per_s_off": off,
        "steps_per_s_every_100": on,
        "ratio": on / off,
        "checkpoint_mb": statistics.median(s["checkpoint_mb"] for s in samples["every_100"]),
        "save_s_median": statistics.median(s["save_s"] for s in samples["every_100"]),
        "samples": samples,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps({k: result[k] for k in ("ratio", "checkpoint_mb", "save_s_median")}) + "\n")


if __name__ == "__main__":
    main()
