"""Bucketing by length against padding to one length: real tokens per second on long-tailed sequence lengths.

The same task (``bench/bucket_task.py``: 8-512 tokens, median about 60), the same seed and steps, once with
``data.pad_to = {tokens = 512}`` and once with ``data.bucket_by = "tokens"``, ``data.bucket_lengths = [64, 128,
256, 512]``; each run is an ``xaxengine run`` subprocess, the two alternate, and the driver reports medians of the
real (unpadded) tokens per second over the timed window (from the first train log after every bucket has compiled
to the last), the share of padded positions that are real, and the compile events. Results: bench/results/buckets.json.

    python bench/buckets.py [--repeats 3] [--steps 400]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VARIANTS = {
    "padded": ["data.pad_to={tokens = 512}"],
    "bucketed": ["data.bucket_by=tokens", "data.bucket_lengths=[64, 128, 256, 512]"],
}
COMMON = [
    "train.log_every_n_steps=20",
    "train.valid_every_n_steps=0",
    "checkpoint.save_every_n_steps=0",
    "data.batch_size=64",
    "logger.tensorboard=false",
    "logger.progress=off",
]


def run(variant: str, steps: int) -> dict[str, Any]:
    """One engine run of ``variant``; its real tokens per second, real share and compiles."""
    from xaxengine.protocol import read_events

    runs = tempfile.mkdtemp(prefix="xax-buckets-")
    task = Path(runs) / "task.toml"
    task.write_text('task = "bench.bucket_task:BucketBenchTask"\n')
    args = [str(task), f"train.max_steps={steps}", *COMMON, *VARIANTS[variant], "--runs-dir", runs, "--run-id", "b"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    engine = str(REPO / ".venv" / "bin" / "xaxengine")
    proc = subprocess.run([engine, "run", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{variant} failed: {proc.stderr[-2000:]}")
    events = list(read_events(next(Path(runs).glob("*/b/events.jsonl"))))
    compiles = [e for e in events if e["kind"] == "compile" and e["name"].startswith("train_step")]
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    last_compile_t = max(e["t"] for e in compiles)
    timed = [e for e in train if e["t"] > last_compile_t + 1.0]  # after every bucket compiled, and a margin
    first, last = timed[0], timed[-1]
    steps_timed = last["step"] - first["step"]
    real_per_step = statistics.mean(e["values"]["real_tokens"] for e in timed[1:])
    padded_per_step = statistics.mean(64 * e["values"]["padded_len"] for e in timed[1:])
    return {
        "real_tokens_per_s": real_per_step * steps_timed / (last["t"] - first["t"]),
        "steps_per_s": steps_timed / (last["t"] - first["t"]),
        "real_share": real_per_step / padded_per_step,
        "timed_steps": steps_timed,
        "compiles": [{"name": e["name"], "compile_s": e["compile_s"]} for e in compiles],
    }


def main() -> None:
    """Alternates the two variants and writes medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "buckets.json"))
    args = parser.parse_args()
    from bench.machine import machine

    before = machine()
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for repeat in range(args.repeats):
        for name in VARIANTS if repeat % 2 == 0 else list(VARIANTS)[::-1]:
            samples[name].append(run(name, args.steps))
            sys.stderr.write(f"repeat {repeat} {name}: {samples[name][-1]}\n")
    medians = {
        name: {
            key: statistics.median(s[key] for s in rows) for key in ("real_tokens_per_s", "steps_per_s", "real_share")
        }
        for name, rows in samples.items()
    }
    ratios = [
        b["real_tokens_per_s"] / p["real_tokens_per_s"]
        for p, b in zip(samples["padded"], samples["bucketed"], strict=True)
    ]
    result = {
        "workload": "token sequences of 8-512 (log-normal, median ~60), embedding + per-position MLP + masked mean, "
        "batch 64, Adam",
        "steps": args.steps,
        "repeats": args.repeats,
        "medians": medians,
        "bucketed_over_padded_real_tokens_per_s": statistics.median(ratios),
        "ratios_all": ratios,
        "machine_before": before,
        "machine_after": machine(),
        "samples": samples,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2) + "\n")


if __name__ == "__main__":
    main()
