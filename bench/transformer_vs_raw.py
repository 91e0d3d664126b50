"""The char transformer (tasks/shakespeare.toml) through the engine vs a hand-written raw JAX loop: steps/s ratio.

The raw loop is what a competent JAX user writes for the same model, data and optimizer: the token windows on the
device, one jitted step with donated buffers gathering its batch by index, the loss read every LOG_EVERY steps. The
engine runs the task as configured for training (JSONL + TensorBoard + plain progress, stats sampling,
``train.steps_per_call = 1``) with validation, sampling and checkpoints off, as in bench/engine_vs_raw.py. Each
measurement is a fresh subprocess; the variants alternate; the driver reports medians and every pair's ratio.
Results: bench/results/transformer_vs_raw.json.

    python bench/transformer_vs_raw.py [--repeats 5] [--steps 600]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LOG_EVERY = 50
TOML = REPO / "tasks" / "shakespeare.toml"
OFF = {"valid_every_n_steps": 0, "log_heavy_every_n_steps": 0, "log_every_n_steps": LOG_EVERY}


def _config(steps: int, runs: str = "") -> Any:
    from xaxengine.config import load_run_spec

    overrides = [f"train.{k}={v}" for k, v in {**OFF, "max_steps": steps}.items()]
    overrides += ["checkpoint.save_every_n_steps=0", "logger.tensorboard=true", "logger.progress=plain"]
    if runs:
        overrides += [f"artifacts.runs_dir={runs}", "artifacts.run_id=bench"]
    spec = load_run_spec(str(TOML), overrides)
    return spec.task_cls, spec.config


def run_raw(steps: int) -> dict[str, float]:
    """Raw loop over the same model, windows and AdamW schedule."""
    import equinox as eqx
    import jax
    import numpy as np
    import optax

    import xaxengine as xax

    task_cls, config = _config(steps)
    task = task_cls(config)
    tokens_np = np.asarray(task.get_dataset("train")["tokens"], dtype=np.int32)
    tokens = jax.device_put(tokens_np)
    model_key, _ = jax.random.split(jax.random.PRNGKey(config.train.seed))
    params, static = eqx.partition(task.get_model(xax.InitParams(key=model_key)), eqx.is_inexact_array)
    optimizer = xax.build_optimizer(config.optimizer, steps)
    opt_state = optimizer.init(params)
    batch_size = config.data.batch_size

    def loss_fn(params: Any, idx: Any) -> Any:
        model = eqx.combine(params, static)
        batch = tokens[idx]
        logits = jax.vmap(model)(batch[:, :-1])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch[:, 1:]).mean()

    def step(params: Any, opt_state: Any, idx: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, idx)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    rng = np.random.default_rng(0)
    per_epoch = len(tokens_np) // batch_size
    perm = rng.permutation(len(tokens_np)).astype(np.int32)
    start = time.perf_counter()
    for i in range(steps):
        if i % per_epoch == 0 and i:
            perm = rng.permutation(len(tokens_np)).astype(np.int32)
        idx = perm[(i % per_epoch) * batch_size : (i % per_epoch + 1) * batch_size]
        params, opt_state, loss = step(params, opt_state, idx)
        if i == 0:
            loss.block_until_ready()
            start = time.perf_counter()
        if (i + 1) % LOG_EVERY == 0:
            float(loss)
    jax.block_until_ready(params)
    return {"steps_per_s": (steps - 1) / (time.perf_counter() - start)}


def run_engine(steps: int) -> dict[str, float]:
    """The task through the engine; steps/s between its first and last train logs (as engine_vs_raw does)."""
    from xaxengine.launch_config import RunOptions
    from xaxengine.protocol import read_events

    runs = tempfile.mkdtemp(prefix="xax-bench-")
    task_cls, config = _config(steps, runs)
    assert task_cls.launch(config, RunOptions()) == 0, "engine run failed"
    events = list(read_events(next(Path(runs).glob("*/bench/events.jsonl"))))
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    return {"steps_per_s": (train[-1]["step"] - train[0]["step"]) / (train[-1]["t"] - train[0]["t"])}


def main() -> None:
    """Alternates raw and engine subprocesses; writes medians and the ratio of every pair."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--worker", choices=["raw", "engine"])
    args = parser.parse_args()
    if args.worker:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        result = run_raw(args.steps) if args.worker == "raw" else run_engine(args.steps)
        sys.stdout.write(json.dumps(result) + "\n")
        return
    from bench.alternate import alternate

    samples = alternate(__file__, {"raw": "raw", "engine": "engine"}, ["--steps", str(args.steps)], args.repeats)
    ratios = [e["steps_per_s"] / r["steps_per_s"] for r, e in zip(samples["raw"], samples["engine"], strict=True)]
    result = {
        "model": "tasks/shakespeare.toml char transformer (dim 128, 4 layers, 4 heads, block 64, batch 16), AdamW",
        "steps": args.steps,
        "repeats": args.repeats,
        "raw_steps_per_s_median": statistics.median(s["steps_per_s"] for s in samples["raw"]),
        "engine_steps_per_s_median": statistics.median(s["steps_per_s"] for s in samples["engine"]),
        "steps_per_s_ratio_median": statistics.median(ratios),
        "steps_per_s_ratio_all": ratios,
        "load_average": os.getloadavg(),
        "samples": samples,
    }
    out = REPO / "bench" / "results" / "transformer_vs_raw.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps({k: result[k] for k in ("steps_per_s_ratio_median", "steps_per_s_ratio_all")}) + "\n")


if __name__ == "__main__":
    main()
