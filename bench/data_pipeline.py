"""The Grain input path vs a hand-written Grain loop feeding the same jitted step, on a data-bound workload.

The workload: an MLP 784-H-H-10 (``--hidden``, 1536 by default), Adam, batch 128, with a per-example augmentation
(``bench/data_task.py``, ``--work`` rounds of numpy work) whose cost per batch is calibrated first, on this machine
under its current load, to about the step's (the largest ``work`` costing at most ``--target`` = 0.8 of a step), so
the transform needs about one core. XLA runs its step on one thread on both sides (``XLA_FLAGS``): one core for the
step, ``num_workers`` cores for the transform; on a 2-core machine ``num_workers = 1`` is the row where workers
cover the cores the transform needs (the requirement: engine/raw steps/s >= 0.95 and the engine's
``data_wait_frac`` <= 0.05). Rows for 0 workers (the transform in the training process) and 2 (more processes than
cores) are context. The raw side is a competent user's loop: ``mp_prefetch`` workers build the batches, one jitted
donated step, the loss read at each log. It reports its own wait for batches too, for context only: it never
bounds the steps in flight, so its wait overlaps the step it has just dispatched (the engine waits on the step once
2 are in flight, and only a real shortage of batches shows as its ``data_wait_frac``).

Every measurement runs in a fresh subprocess; the variants and worker counts alternate (the order flips each
repeat); medians are reported. Rates and waits are taken from the first log on (the engine's first timing interval,
which holds the workers' start-up, is reported apart). Results: bench/results/data_pipeline.json.

    python bench/data_pipeline.py [--repeats 5] [--context-repeats 2] [--steps 300] [--hidden 1536] [--target 0.8]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.data_runs import run_engine, run_raw  # noqa: E402
from bench.machine import machine  # noqa: E402

ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
WORKS = (0, 2, 4, 8, 12, 16, 24, 32)  # the augmentation's cost knob, tried cheapest first


def calibrate(hidden: int, target: float) -> dict[str, Any]:
    """Medians of one step alone (blocking, one XLA thread) and of one batch's transform for each ``work``.

    Picks the largest ``work`` whose transform costs at most ``target`` times the step (``work = 0`` if none does):
    the transform then needs about ``target`` of a core, so one worker covers it, on whatever machine this runs.
    """
    import equinox as eqx
    import jax
    import optax

    from bench.data_runs import RawBatch
    from bench.mlp_task import make_mlp, mlp_loss

    params, static = eqx.partition(make_mlp(jax.random.PRNGKey(0), hidden), eqx.is_inexact_array)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(lambda p: mlp_loss(eqx.combine(p, static), x, y))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    batch = RawBatch(0)(0)
    x, y = jax.device_put(batch["x"]), jax.device_put(batch["y"])
    step_s: list[float] = []
    batch_s: dict[int, list[float]] = {w: [] for w in WORKS}
    makers = {w: RawBatch(w) for w in WORKS}
    for repeat in range(12):  # round robin: load drift hits every work level and the step alike
        for _ in range(5):
            t0 = time.perf_counter()
            params, opt_state, loss = step(params, opt_state, x, y)
            loss.block_until_ready()
            step_s.append(time.perf_counter() - t0)
        for work, make in makers.items():
            t0 = time.perf_counter()
            make(repeat)
            batch_s[work].append(time.perf_counter() - t0)
    step_ms = 1e3 * statistics.median(step_s[5:])
    transform_ms = {w: 1e3 * statistics.median(times[2:]) for w, times in batch_s.items()}
    fits = [w for w in WORKS if transform_ms[w] <= target * step_ms]
    work = max(fits) if fits else 0
    return {
        "step_ms": step_ms,
        "transform_ms_by_work": transform_ms,
        "work": work,
        "transform_ms_per_batch": transform_ms[work],
        "transform_over_step": transform_ms[work] / step_ms,
        "target_transform_over_step": target,
    }


def measure(variant: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in a fresh subprocess (``--worker VARIANT``); its last stdout line is the JSON result."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    env["XLA_FLAGS"] = ONE_THREAD
    cmd = [sys.executable, __file__, "--worker", variant, "--workers", str(workers)]
    cmd += ["--steps", str(args.steps), "--work", str(args.work), "--hidden", str(args.hidden)]
    cmd += ["--target", str(args.target)]
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=REPO).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["load1_at_start"] = load
    sys.stderr.write(f"{variant} workers={workers}: {result}\n")
    return result


def schedule(args: argparse.Namespace) -> list[tuple[int, str, int]]:
    """``(repeat, variant, workers)`` in run order: every row each repeat it has, order flipped every repeat."""
    rows = [(w, v) for w in (1, 0, 2) for v in ("raw", "engine")]
    out = []
    for repeat in range(max(args.repeats, args.context_repeats)):
        for workers, variant in rows if repeat % 2 == 0 else rows[::-1]:
            if repeat < (args.repeats if workers == args.headline_workers else args.context_repeats):
                out.append((repeat, variant, workers))
    return out


def summarize(samples: dict[str, list[dict[str, Any]]], workers: int) -> dict[str, Any]:
    """Medians of one worker count's raw and engine samples, and their pairwise steps/s ratios."""
    raw, engine = samples[f"raw_{workers}"], samples[f"engine_{workers}"]
    ratios = [e["steps_per_s"] / r["steps_per_s"] for r, e in zip(raw, engine, strict=True)]

    def median(rows: list[dict[str, Any]], key: str) -> float | None:
        values = [row[key] for row in rows if row.get(key) is not None]
        return statistics.median(values) if values else None

    return {
        "num_workers": workers,
        "repeats": len(ratios),
        "raw_steps_per_s_median": median(raw, "steps_per_s"),
        "engine_steps_per_s_median": median(engine, "steps_per_s"),
        "steps_per_s_ratio_median": statistics.median(ratios),
        "steps_per_s_ratio_of_medians": median(engine, "steps_per_s") / median(raw, "steps_per_s"),
        "steps_per_s_ratio_all": ratios,
        "engine_data_wait_frac_median": median(engine, "data_wait_frac"),
        "engine_data_wait_frac_first_interval_median": median(engine, "data_wait_frac_first_interval"),
        "engine_step_frac_median": median(engine, "step_frac"),
        "engine_pool_busy_frac_median": median(engine, "pool_busy_frac"),
        "engine_pool_queue_median": median(engine, "pool_queue"),
        "raw_data_wait_frac_median": median(raw, "data_wait_frac"),
    }


def main() -> None:
    """Runs the schedule and writes the summary (headline row first) with every sample and the machine's load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the headline row")
    parser.add_argument("--context-repeats", type=int, default=2, help="repeats of the 0- and 2-worker rows")
    parser.add_argument("--headline-workers", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--work", type=int, default=-1, help="augmentation cost; -1: calibrated (see --target)")
    parser.add_argument("--target", type=float, default=0.8, help="calibrated transform cost / step cost")
    parser.add_argument("--hidden", type=int, default=1536)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker", choices=["raw", "engine", "calibrate"])
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "data_pipeline.json"))
    args = parser.parse_args()
    if args.worker:
        if args.worker == "calibrate":
            result = calibrate(args.hidden, args.target)
        else:
            run = run_raw if args.worker == "raw" else run_engine
            result = run(args.steps, args.workers, args.work, args.hidden)
        sys.stdout.write(json.dumps(result) + "\n")
        return
    start, before = time.time(), machine()
    samples: dict[str, list[dict[str, Any]]] = {}
    cost = measure("calibrate", 0, args)
    if args.work < 0:
        args.work = cost["work"]
    for _, variant, workers in schedule(args):
        samples.setdefault(f"{variant}_{workers}", []).append(measure(variant, workers, args))
    rows = [summarize(samples, w) for w in (args.headline_workers, 0, 2) if f"raw_{w}" in samples]
    head = rows[0]
    result = {
        "workload": f"MLP 784-{args.hidden}-{args.hidden}-10, Adam, batch 128; per-example augment work={args.work}",
        "xla_flags": ONE_THREAD,
        "steps": args.steps,
        "cost": cost,
        "requirement": "num_workers covering the transform's cores: ratio >= 0.95 and data_wait_frac <= 0.05",
        "headline": {
            "num_workers": head["num_workers"],
            "steps_per_s_ratio_median": head["steps_per_s_ratio_median"],
            "steps_per_s_ratio_of_medians": head["steps_per_s_ratio_of_medians"],
            "steps_per_s_ratio_spread": [min(head["steps_per_s_ratio_all"]), max(head["steps_per_s_ratio_all"])],
            "engine_data_wait_frac_median": head["engine_data_wait_frac_median"],
            "ratio_ok": head["steps_per_s_ratio_median"] >= 0.95,
            "data_wait_ok": (head["engine_data_wait_frac_median"] or 1.0) <= 0.05,
        },
        "rows": rows,
        "machine_before": before,
        "machine_after": machine(),
        "seconds": time.time() - start,
        "samples": samples,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps({"cost": cost, "headline": result["headline"]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
