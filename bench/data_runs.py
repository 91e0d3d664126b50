"""The two sides of bench/data_pipeline.py: a hand-written Grain + JAX loop, and the engine's Grain path.

Both train the same MLP on the same augmented batches (``bench/data_task.py``) built in ``num_workers`` Grain
processes, and report steps/s and the share of the time their loop waited for a batch, from the first log on.
"""

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

LOG_EVERY = 50
BATCH = 128
SEED = 0


class RawBatch:
    """The hand-written side's batch function: epoch permutation, Arrow rows, per-example augment, stack."""

    def __init__(self, work: int) -> None:
        """Builds the dataset lazily (in each worker, after unpickling, the same deterministic arrays)."""
        self.work = work
        self.dataset = None

    def __call__(self, k: int) -> dict:
        """Batch ``k``."""
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


def run_raw(steps: int, workers: int, work: int, hidden: int) -> dict[str, float]:
    """A competent Grain + JAX loop: mp_prefetch workers build batches, one jitted donated step, loss read sparsely."""
    import equinox as eqx
    import grain
    import jax
    import optax
    from absl import flags

    from bench.mlp_task import make_mlp, mlp_loss

    flags.FLAGS.mark_as_parsed()
    params, static = eqx.partition(make_mlp(jax.random.split(jax.random.PRNGKey(0))[0], hidden), eqx.is_inexact_array)
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
    start, counted, wait = time.perf_counter(), 0, 0.0
    for i in range(steps):
        t0 = time.perf_counter()
        batch = next(iterator)
        wait += time.perf_counter() - t0
        params, opt_state, loss = step(params, opt_state, batch["x"], batch["y"])
        if i == LOG_EVERY - 1:  # time from the first log on, like the engine's intervals
            loss.block_until_ready()
            start, counted, wait = time.perf_counter(), i + 1, 0.0
        elif (i + 1) % LOG_EVERY == 0:
            float(loss)
    jax.block_until_ready(params)
    elapsed = time.perf_counter() - start
    iterator.close()
    return {"steps_per_s": (steps - counted) / elapsed, "data_wait_frac": wait / elapsed}


def run_engine(steps: int, workers: int, work: int, hidden: int) -> dict[str, Any]:
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
            "hidden": hidden,
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
    events = list(read_events(next(Path(runs).glob("*/bench/events.jsonl"))))
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    first, last = train[0], train[-1]
    timing = [e["values"] for e in events if e["kind"] == "scalars" and e["phase"] == TIMING_PHASE]
    pool = [e["data"] for e in events if e["kind"] == "stats" and e.get("data")]
    busy = [p["busy_frac"] for p in pool if p.get("busy_frac") is not None]
    return {
        "steps_per_s": (last["step"] - first["step"]) / (last["t"] - first["t"]),
        "data_wait_frac": statistics.median(t["data_wait_frac"] for t in timing[1:]),
        "data_wait_frac_first_interval": timing[0]["data_wait_frac"],
        "step_frac": statistics.median(t["step_frac"] for t in timing[1:]),
        "pool_busy_frac": statistics.median(busy) if busy else None,
        "pool_queue": statistics.median(p["queue"] for p in pool) if pool else None,
    }
