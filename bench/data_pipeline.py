"""The Grain input path vs a hand-written Grain loop feeding the same jitted step, on a data-bound workload.

The workload is the benchmark MLP (784-512-512-10, Adam, batch 128) with a per-example augmentation
(``bench/data_task.py``, ``--work`` rounds of numpy work) run in ``--workers`` Grain processes on both sides. The
engine logs ``data_wait_frac`` (the share of the interval its loop waited for a batch). Each measurement runs in
a fresh subprocess; the variants alternate; medians are reported. Results: bench/results/data_pipeline.json.

    python bench/data_pipeline.py [--repeats 3] [--steps 600] [--workers 2] [--work 8]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LOG_EVERY = 50
BATCH = 128
SEED = 0


class RawBatch:
    """The hand-written side's batch function: epoch permutation, Arrow rows, per-example augment, stack."""

    def __init__(self, work: int) -> None:
        """Builds the dataset (in each worker, after unpickling, the same deterministic arrays)."""
        self.work = work
        self.dataset = None

    def __call__(self, k: int) -> dict:
        import numpy as np

        from bench.data_task import augment

        if self.dataset is None:
            import datasets

            from bench.mlp_task import synthetic_arrays

            x, y = synthetic_arrays()
            self.dataset = datasets.Dataset.from_dict({"x": x, "y": y}).with_format("numpy")
        per_epoch = len(self.dataset) // BATCH
        epoch, slot = divmod(int(k), per_epoch)
        order = np.random.default_rng([SEED, epoch]).permutation(len(self.dataset))
        rows = self.dataset[order[slot * BATCH : (slot + 1) * BATCH]]
        xs = [augment(x, np.random.default_rng([SEED, epoch, i]), self.work) for i, x in enumerate(rows["x"])]
        return {"x": np.stack(xs), "y": rows["y"].astype(np.int32)}


def run_raw(steps: int, workers: int, work: int) -> dict[str, float]:
    """A competent Grain + JAX loop: mp_prefetch workers build batches, one jitted donated step, loss read sparsely."""
    import equinox as eqx
    import grain
    import jax
    import optax
    from absl import flags

    from bench.mlp_task import make_mlp, mlp_loss

    flags.FLAGS.mark_as_parsed()
    params, static = eqx.partition(make_mlp(jax.random.split(jax.random.PRNGKey(0))[0]), eqx.is_inexact_array)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(lambda p: mlp_loss(eqx.combine(p, static), x, y))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    pipeline = grain.MapDataset.range(0, steps + 1).map(RawBatch(work))
    iterable = pipeline.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=2))
    if workers:
        iterable = iterable.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=2))
    iterator = iter(iterable)
    start = time.perf_counter()
    for i in range(steps):
        batch = next(iterator)
        params, opt_state, loss = step(params, opt_state, batch["x"], batch["y"])
        if i == LOG_EVERY - 1:  # time from the first log on, like the engine's intervals
            loss.block_until_ready()
            start, counted = time.perf_counter(), i + 1
        elif (i + 1) % LOG_EVERY == 0:
            float(loss)
    jax.block_until_ready(params)
    elapsed = time.perf_counter() - start
    iterator.close()
    return {"steps_per_s": (steps - counted) / elapsed}


def run_engine(steps: int, workers: int, work: int) -> dict[str, float]:
    """The same model and augmentation through the engine's Grain path (``transform`` hook, ``data.num_workers``)."""
    from bench.data_task import DataBoundConfig, DataBoundTask
    from xaxengine.config import build_config
    from xaxengine.launch_config import RunOptions
    from xaxengine.protocol import TIMING_PHASE, read_events

    runs = tempfile.mkdtemp(prefix="xax-bench-data-")
    config = build_config(
        DataBoundConfig,
        {
            "work": work,
            "train": {"max_steps": steps, "log_every_n_steps": LOG_EVERY, "valid_every_n_steps": 0, "seed": SEED},
            "optimizer": {"lr": 1e-3},
            "data": {"batch_size": BATCH, "num_workers": workers, "prefetch": 2},
            "checkpoint": {"save_every_n_steps": 0},
            "logger": {"tensorboard": False, "progress": "plain"},
            "artifacts": {"runs_dir": runs, "run_id": "bench"},
        },
    )
    code = DataBoundTask.launch(config, RunOptions())
    assert code == 0, f"engine run failed with {code}"
    run_dir = next(Path(runs).iterdir()) / "bench"
    events = list(read_events(run_dir / "events.jsonl"))
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    first, last = train[0], train[-1]
    timing = [e["values"] for e in events if e["kind"] == "scalars" and e["phase"] == TIMING_PHASE][1:]
    return {
        "steps_per_s": (last["step"] - first["step"]) / (last["t"] - first["t"]),
        "data_wait_frac": statistics.median(t["data_wait_frac"] for t in timing) if timing else float("nan"),
    }


def transform_cost(work: int) -> float:
    """Seconds of one batch's augmentation in this process (what the workers must hide)."""
    import numpy as np

    from bench.data_task import augment

    x = np.random.default_rng(0).standard_normal((BATCH, 784)).astype(np.float32)
    t0 = time.perf_counter()
    for _ in range(5):
        for i in range(BATCH):
            augment(x[i], np.random.default_rng([0, 0, i]), work)
    return (time.perf_counter() - t0) / 5


def worker(mode: str, steps: int, workers: int, work: int) -> None:
    """Runs one measurement and prints it as JSON with the process's peak RSS."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    result = run_raw(steps, workers, work) if mode == "raw" else run_engine(steps, workers, work)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps(result) + "\n")


def main() -> None:
    """Alternates raw and engine subprocesses and writes the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=int, default=8)
    parser.add_argument("--worker", choices=["raw", "engine"])
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "data_pipeline.json"))
    args = parser.parse_args()
    extra = ["--steps", str(args.steps), "--workers", str(args.workers), "--work", str(args.work)]
    if args.worker:
        worker(args.worker, args.steps, args.workers, args.work)
        return
    from bench.alternate import alternate

    samples = alternate(__file__, {"raw": "raw", "engine": "engine"}, extra, args.repeats)
    ratios = [e["steps_per_s"] / r["steps_per_s"] for r, e in zip(samples["raw"], samples["engine"], strict=True)]
    raw_sps = statistics.median(s["steps_per_s"] for s in samples["raw"])
    result = {
        "workload": f"MLP 784-512-512-10, Adam, batch {BATCH}; per-example augment work={args.work}",
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "steps": args.steps,
        "repeats": args.repeats,
        "transform_s_per_batch_in_process": transform_cost(args.work),
        "raw_steps_per_s_median": raw_sps,
        "engine_steps_per_s_median": statistics.median(s["steps_per_s"] for s in samples["engine"]),
        "steps_per_s_ratio_median": statistics.median(ratios),
        "steps_per_s_ratio_all": ratios,
        "engine_data_wait_frac_median": statistics.median(s["data_wait_frac"] for s in samples["engine"]),
        "samples": samples,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    keys = ("steps_per_s_ratio_median", "engine_data_wait_frac_median", "transform_s_per_batch_in_process")
    sys.stdout.write(json.dumps({k: result[k] for k in keys}, indent=2) + "\n")


if __name__ == "__main__":
    main()
