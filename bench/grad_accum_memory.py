"""Device memory of the Shakespeare train step against ``train.grad_accum_steps``: what accumulation saves.

Runs the real task through ``xaxengine run`` for a few steps at each ``grad_accum_steps`` and batch size, and reads
the train step's ``compile`` event: ``temp_bytes`` (XLA's memory analysis: the scratch beyond operands and results,
where the activations kept for the backward pass live). On a device whose ``memory_stats()`` reports a peak (GPU,
TPU), the peak after the run is recorded too; on CPU it has none, so the memory analysis is the figure.
Results: bench/results/grad_accum_memory.json.

    python bench/grad_accum_memory.py [--batches 16 64] [--ks 1 2 4 8]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xaxengine.protocol import read_events  # noqa: E402  (after the path insert; jax-free)


def measure(batch: int, k: int, runs: Path) -> dict[str, object]:
    """One short Shakespeare run; the train step's memory figures from its compile event."""
    run_id = f"b{batch}-k{k}"
    cmd = [
        str(Path(sys.executable).parent / "xaxengine"), "run", "tasks/shakespeare.toml",
        f"data.batch_size={batch}", f"train.grad_accum_steps={k}", "train.max_steps=4", "train.log_every_n_steps=2",
        "train.valid_every_n_steps=0", "train.log_heavy_every_n_steps=0", "checkpoint.save_every_n_steps=0",
        "logger.progress=off", "logger.tensorboard=false", "stats.enabled=false",
        "--runs-dir", str(runs), "--run-id", run_id,
    ]  # fmt: skip
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{run_id}: engine exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    events = list(read_events(runs / "shakespeare" / run_id / "events.jsonl"))
    compile_event = next(e for e in events if e["kind"] == "compile" and e["name"] == "train_step")
    return {
        "batch_size": batch,
        "grad_accum_steps": k,
        "microbatch": batch // k,
        "temp_bytes": compile_event.get("temp_bytes"),
        "argument_bytes": compile_event.get("argument_bytes"),
        "device_kind": compile_event.get("device_kind"),
    }


def main() -> None:
    """Measures every (batch, k) pair and writes the JSON with each k's factor against k = 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    started = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in args.batches:
            for k in args.ks:
                row = measure(batch, k, Path(tmp))
                print(json.dumps(row), flush=True)
                rows.append(row)
    for row in rows:
        base = next(r for r in rows if r["batch_size"] == row["batch_size"] and r["grad_accum_steps"] == 1)
        if row["temp_bytes"] and base["temp_bytes"]:
            row["temp_factor_vs_k1"] = base["temp_bytes"] / row["temp_bytes"]  # ty: ignore[unsupported-operator]
    result = {
        "task": "tasks/shakespeare.toml (char transformer dim 128, 4 layers, block 64)",
        "figure": "temp_bytes of the compiled train step (XLA memory analysis; CPU has no memory_stats peak)",
        "rows": rows,
        "seconds": time.time() - started,
    }
    out = REPO / "bench" / "results" / "grad_accum_memory.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
