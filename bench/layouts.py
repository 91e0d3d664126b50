"""Steps/s of the digits MLP under each device layout, and the ratio to single_device (overhead, on CPU).

Each run is a real ``xaxengine run`` subprocess (layouts that need children start them). The rate of a run is the
median ``steps_per_s`` of its train ``scalars`` windows after the first (compilation and warm-up excluded); a layout's
number is the median over ``--repeats`` runs, layouts interleaved. All layouts use the same global batch, so
samples/s scale like steps/s. Results: bench/results/layouts.json.

    python bench/layouts.py [--repeats 3] [--steps 400] [--batch 128]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xaxengine.protocol import read_events  # noqa: E402

LAYOUTS: dict[str, list[str]] = {
    "single_device": ["launch.layout=single_device"],
    "multi_cpu_2": ["launch.layout=multi_cpu", "launch.num_devices=2"],
    "multi_cpu_4": ["launch.layout=multi_cpu", "launch.num_devices=4"],
    "multi_process_2x1": ["launch.layout=multi_process", "launch.num_processes=2", "launch.num_devices=1"],
    "multi_process_2x2": ["launch.layout=multi_process", "launch.num_processes=2", "launch.num_devices=2"],
}


def run_once(name: str, steps: int, batch: int, log_every: int, runs: Path, repeat: int) -> dict[str, float]:
    """One engine run of a layout; returns its steady steps/s and wall time."""
    run_id = f"{name}-{repeat}"
    cmd = [
        str(Path(sys.executable).parent / "xaxengine"),
        "run",
        "tasks/mnist.toml",
        f"train.max_steps={steps}",
        f"train.log_every_n_steps={log_every}",
        "train.valid_every_n_steps=0",
        "checkpoint.save_every_n_steps=0",
        f"data.batch_size={batch}",
        "optimizer.warmup_steps=0",
        "stats.enabled=false",
        "logger.tensorboard=false",
        "logger.progress=off",
        *LAYOUTS[name],
        "--runs-dir",
        str(runs),
        "--run-id",
        run_id,
    ]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{name} failed ({done.returncode}): {done.stderr[-1500:]}")
    events = list(read_events(runs / "mnist" / run_id / "events.jsonl"))
    rates = [e["steps_per_s"] for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    return {"steps_per_s": statistics.median(rates[1:] or rates), "wall_s": wall}


def main() -> None:
    """Runs every layout ``--repeats`` times and writes the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--layouts", nargs="*", default=list(LAYOUTS))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "layouts.json"))
    args = parser.parse_args()
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in args.layouts}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name in args.layouts:
                samples[name].append(run_once(name, args.steps, args.batch, args.log_every, Path(tmp), repeat))
                print(f"{name} #{repeat}: {samples[name][-1]['steps_per_s']:.1f} steps/s", file=sys.stderr)
    layouts = {
        name: {
            "steps_per_s": statistics.median(s["steps_per_s"] for s in runs),
            "wall_s": statistics.median(s["wall_s"] for s in runs),
            "runs": runs,
        }
        for name, runs in samples.items()
    }
    base = layouts.get("single_device", {}).get("steps_per_s")
    for entry in layouts.values():
        entry["vs_single_device"] = entry["steps_per_s"] / base if base else None
    result = {
        "bench": "layouts",
        "task": "tasks/mnist.toml (digits MLP hidden=256 depth=2)",
        "global_batch": args.batch,
        "steps": args.steps,
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg_at_end": os.getloadavg()},
        "device": "CPU only (no GPU lent to this task)",
        "layouts": layouts,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for name, entry in layouts.items():
        print(f"{name:<20} {entry['steps_per_s']:8.1f} steps/s  x{entry['vs_single_device']:.2f}")


if __name__ == "__main__":
    main()
