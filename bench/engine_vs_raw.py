"""Engine vs a hand-written raw JAX loop on the same MLP: steps/s ratio, time to first step, peak RSS.

Also the engine with ``process.background_nice = 0`` (its logger and stats threads at the step's priority; the
default lowers them by 10: the ``background_nice_0`` rows), the CPU share of every thread at the last step
(``thread_cpu_share_median``), and the engine with ``train.steps_per_call = 8`` (8 optimizer
steps per compiled call, logging every 56 steps, the multiple of 8 nearest 50) against the same raw
one-step-per-call loop: the ``steps_per_call_8`` rows. The ``depth_2`` rows run the engine with the host waiting
for the device at every step, 2 steps behind (the queue's default before the paced queue of up to 16). The
``cpu_per_step`` rows divide the CPU seconds of the whole process (every thread: XLA's, the loggers', the loop's) per
step over the timed steps, engine over raw, pair by pair: above 1 is work the engine adds, which on 2 cores the
step pays for.

Each measurement runs in its own fresh subprocess (so neither side inherits the other's compile caches or memory);
raw and engine runs alternate, several repeats, and the driver reports medians.

On this 2-core VM the same program's speed differs by up to 15% from one process to the next (raw alone: 238-292
steps/s over 7 processes), more than the gap being measured. So the ``same_process`` rows also run raw and engine
alternately inside one process (raw, engine, raw, engine, each on fresh state and a fresh compile), and report the
ratio of each process's medians: a per-process speed shift cancels out of it.
Results: bench/results/engine_vs_raw.json.

    python bench/engine_vs_raw.py [--repeats 5] [--steps 2000]
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T0 = time.time()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LOG_EVERY = 50
BATCH = 128


def run_raw(steps: int) -> dict[str, float]:
    """The loop a competent JAX user writes: data on device, one jitted donated step, loss read every LOG_EVERY."""
    import equinox as eqx
    import jax
    import numpy as np
    import optax

    from bench.mlp_task import make_mlp, mlp_loss, synthetic_arrays

    x_np, y_np = synthetic_arrays()
    x, y = jax.device_put(x_np), jax.device_put(y_np)
    params, static = eqx.partition(make_mlp(jax.random.split(jax.random.PRNGKey(0))[0]), eqx.is_inexact_array)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)

    def step(params, opt_state, idx):
        loss, grads = jax.value_and_grad(lambda p: mlp_loss(eqx.combine(p, static), x[idx], y[idx]))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x_np)).astype(np.int32)
    per_epoch = len(x_np) // BATCH
    first_step_s = 0.0
    for i in range(steps):
        if i % per_epoch == 0 and i:
            perm = rng.permutation(len(x_np)).astype(np.int32)
        idx = perm[(i % per_epoch) * BATCH : (i % per_epoch + 1) * BATCH]
        params, opt_state, loss = step(params, opt_state, idx)
        if i == 0:
            loss.block_until_ready()
            first_step_s = time.time() - T0
            start, cpu_start = time.perf_counter(), time.process_time()
        if (i + 1) % LOG_EVERY == 0:
            float(loss)
    jax.block_until_ready(params)
    elapsed, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return {"steps_per_s": (steps - 1) / elapsed, "first_step_s": first_step_s, "cpu_s_per_step": cpu_s / (steps - 1)}


def run_engine(steps: int, steps_per_call: int = 1, depth2: bool = False, nice: int = 10) -> dict[str, Any]:
    """The same model through the engine with JSONL + TensorBoard + plain progress logging and stats sampling.

    ``depth2`` waits for the device at every step, 2 steps behind (``train.max_steps_in_flight = 2``,
    ``dispatch_ahead_s = 0``: the default before the paced queue) instead of the default paced queue
    of up to 16; ``nice`` is ``process.background_nice`` (the default lowers the logger and stats threads by 10). The
    result has the CPU seconds of every thread at the last step (``thread_cpu_s``, by thread name; XLA's threads are
    ``native:*``).
    """
    import xaxengine as xax
    from bench.mlp_task import BenchConfig, BenchMlpTask
    from xaxengine.config import build_config
    from xaxengine.launch_config import RunOptions
    from xaxengine.protocol import read_events
    from xaxengine.threads import thread_cpu_seconds

    clocks: dict[str, float] = {}
    cpu_at: dict[int, float] = {}

    class ClockedTask(BenchMlpTask):
        def get_hooks(self) -> list[Any]:
            def process_cpu(step: int, *_: Any) -> None:
                cpu_at[step] = time.process_time()  # every thread of the process: XLA's, the loggers', the loop's

            return [
                xax.Hook(lambda *_: clocks.update(thread_cpu_seconds()), at_end=True, name="thread clocks"),
                xax.Hook(process_cpu, at_steps=(first_log,), at_end=True, name="process clock"),
            ]

    log_every = LOG_EVERY if steps_per_call == 1 else round(LOG_EVERY / steps_per_call) * steps_per_call
    first_log = log_every
    runs = tempfile.mkdtemp(prefix="xax-bench-")
    config = build_config(
        BenchConfig,
        {
            "train": {
                "max_steps": steps,
                "log_every_n_steps": log_every,
                "valid_every_n_steps": 0,
                "steps_per_call": steps_per_call,
                **({"max_steps_in_flight": 2, "dispatch_ahead_s": 0.0} if depth2 else {}),
            },
            "optimizer": {"lr": 1e-3},
            "data": {"batch_size": BATCH},
            "checkpoint": {"save_every_n_steps": 0},
            "logger": {"tensorboard": True, "progress": "plain"},
            "artifacts": {"runs_dir": runs, "run_id": "bench"},
            "process": {"background_nice": nice},
        },
    )
    code = ClockedTask.launch(config, RunOptions())
    assert code == 0, f"engine run failed with {code}"
    events = list(read_events(next(Path(runs).glob("*/bench/events.jsonl"))))
    running_t = next(e["t"] for e in events if e["kind"] == "status" and e["state"] == "running")
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    first, last = train[0], train[-1]
    steps_per_s = (last["step"] - first["step"]) / (last["t"] - first["t"])
    (start, begun), (end, ended) = sorted(cpu_at.items())
    return {
        "steps_per_s": steps_per_s,
        "first_step_s": running_t - T0 + 1.0 / steps_per_s,
        "thread_cpu_s": clocks,
        "cpu_s_per_step": (ended - begun) / (end - start),
    }


def same_process_pairs(steps: int, pairs: int = 2) -> dict[str, Any]:
    """Raw and engine alternately in this process (``pairs`` of each); their medians and the ratio."""
    raw, engine = [], []
    for _ in range(pairs):
        raw.append(run_raw(steps)["steps_per_s"])
        engine.append(run_engine(steps)["steps_per_s"])
    ratio = statistics.median(engine) / statistics.median(raw)
    return {"raw_steps_per_s": raw, "engine_steps_per_s": engine, "ratio": ratio, "steps_per_s": ratio}


def worker(mode: str, steps: int) -> None:
    """Runs one measurement and prints it as JSON with the process's peak RSS."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if mode == "same_process":
        result = same_process_pairs(steps)
    elif mode == "raw":
        result = run_raw(steps)
    else:
        nice = 0 if mode == "engine_nice0" else 10
        result = run_engine(steps, 8 if mode == "engine_k8" else 1, depth2=mode == "engine_depth2", nice=nice)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps(result) + "\n")


def main() -> None:
    """Alternates raw and engine subprocesses and writes the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument(
        "--worker", choices=["raw", "engine", "engine_nice0", "engine_k8", "engine_depth2", "same_process"]
    )
    parser.add_argument("--same-process", type=int, default=0, help="Also N processes of same-process pairs.")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "engine_vs_raw.json"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps)
        return
    from bench.alternate import alternate

    same = alternate(__file__, {"same_process": "same_process"}, ["--steps", str(args.steps)], args.same_process)
    same_ratios = [s["ratio"] for s in same["same_process"]]
    if not args.repeats:  # the same-process rows alone
        result = {"steps": args.steps, "same_process_ratio_median": statistics.median(same_ratios)}
        result |= {"same_process_ratio_all": same_ratios, "same_process_samples": same["same_process"]}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        sys.stdout.write(json.dumps({k: v for k, v in result.items() if "samples" not in k}, indent=2) + "\n")
        return
    variants = {name: name for name in ("raw", "engine", "engine_nice0", "engine_k8", "engine_depth2")}
    samples = alternate(__file__, variants, ["--steps", str(args.steps)], args.repeats)

    def median(mode: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[mode])

    def ratios_of(mode: str) -> list[float]:
        pairs = zip(samples["raw"], samples[mode], strict=True)
        return [e["steps_per_s"] / r["steps_per_s"] for r, e in pairs]

    ratios, ratios_k8, ratios_nice0 = ratios_of("engine"), ratios_of("engine_k8"), ratios_of("engine_nice0")
    ratios_depth2 = ratios_of("engine_depth2")
    cpu_ratios = [
        e["cpu_s_per_step"] / r["cpu_s_per_step"] for r, e in zip(samples["raw"], samples["engine"], strict=True)
    ]

    def thread_shares(mode: str) -> dict[str, float]:
        """Median share of the process's CPU seconds per thread (XLA's and libraries' native threads summed)."""
        per_sample = []
        for sample in samples[mode]:
            clocks = sample["thread_cpu_s"]
            total = sum(clocks.values()) or 1.0
            shares: dict[str, float] = {}
            for name, seconds in clocks.items():
                group = "native (XLA and libraries)" if name.startswith("native:") else name
                shares[group] = shares.get(group, 0.0) + seconds / total
            per_sample.append(shares)
        groups = sorted({group for shares in per_sample for group in shares})
        return {group: statistics.median(shares.get(group, 0.0) for shares in per_sample) for group in groups}

    result = {
        "model": "MLP 784-512-512-10, Adam, batch 128, synthetic 28x28 data on device",
        "steps": args.steps,
        "repeats": args.repeats,
        "raw": {k: median("raw", k) for k in ("steps_per_s", "first_step_s", "peak_rss_mb")},
        "engine": {k: median("engine", k) for k in ("steps_per_s", "first_step_s", "peak_rss_mb")},
        "steps_per_s_ratio_median": statistics.median(ratios),
        "steps_per_s_ratio_all": ratios,
        "engine_steps_per_call_8": {k: median("engine_k8", k) for k in ("steps_per_s", "first_step_s", "peak_rss_mb")},
        "steps_per_call_8_ratio_median": statistics.median(ratios_k8),
        "steps_per_call_8_ratio_all": ratios_k8,
        "background_nice_0_ratio_median": statistics.median(ratios_nice0),
        "background_nice_0_ratio_all": ratios_nice0,
        "depth_2_ratio_median": statistics.median(ratios_depth2),
        "depth_2_ratio_all": ratios_depth2,
        "cpu_s_per_step_median": {mode: median(mode, "cpu_s_per_step") for mode in ("raw", "engine")},
        "cpu_per_step_ratio_median": statistics.median(cpu_ratios),
        "cpu_per_step_ratio_all": cpu_ratios,
        "thread_cpu_share_median": {"engine": thread_shares("engine"), "engine_nice0": thread_shares("engine_nice0")},
        "same_process_ratio_median": statistics.median(same_ratios) if same_ratios else None,
        "same_process_ratio_all": same_ratios,
        "same_process_samples": same["same_process"],
        "first_step_delta_s": median("engine", "first_step_s") - median("raw", "first_step_s"),
        "peak_rss_ratio": median("engine", "peak_rss_mb") / median("raw", "peak_rss_mb"),
        "samples": samples,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    keys = ("steps_per_s_ratio_median", "same_process_ratio_median", "steps_per_call_8_ratio_median")
    keys += ("background_nice_0_ratio_median", "depth_2_ratio_median", "cpu_per_step_ratio_median")
    keys += ("first_step_delta_s", "thread_cpu_share_median")
    summary = {k: result[k] for k in keys}
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
