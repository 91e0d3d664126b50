"""Train the example tasks to quality and report the numbers the issue asks for, as JSON under bench/results/.

digits: trains the digits CNN (tasks/mnist_cnn.toml) and the class-conditional diffusion model
(tasks/mnist_diffusion.toml) through the real CLI, samples PER_CLASS images per digit with DDIM and classifier-free
guidance, classifies them with the CNN and reports how often the classifier agrees with the conditioning digit
(per digit, per guidance scale). Saves a sample grid (one row per digit) to docs/diffusion_samples.png.
Results: bench/results/train_quality_digits.json.

shakespeare: trains tasks/shakespeare.toml and reports validation loss (nats/char) against wall time and step, the
steps/s and a generated sample. Results: bench/results/train_quality_shakespeare.json.

Wall times include process start-up (jax import, data loading, compilation). The machine is shared, so the report
also gives the child's CPU seconds and the load average.

    python bench/train_quality.py digits|shakespeare|all [--runs-dir DIR] [--reuse]
"""

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
PER_CLASS = 50
GUIDANCE_SCALES = (1.0, 2.0, 3.0)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def train(toml: str, runs_dir: Path, run_id: str, reuse: bool, *overrides: str) -> tuple[Path, dict]:
    """Runs `xaxengine run TOML` (unless `reuse` and the run finished before); returns the run dir and timings."""
    run_dir = runs_dir / {"mnist_cnn": "mnist"}.get(Path(toml).stem, Path(toml).stem) / run_id
    if reuse and (run_dir / "events.jsonl").exists():
        return run_dir, {"reused": True}
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", JAX_PLATFORMS="cpu")
    cmd = [str(Path(sys.executable).parent / "xaxengine"), "run", toml, *overrides, "logger.progress=plain"]
    cmd += ["--runs-dir", str(runs_dir), "--run-id", run_id]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{toml} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run_dir, {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_avg_1m_after": os.getloadavg()[0]}


def events(run_dir: Path) -> list[dict]:
    from xaxengine.protocol import LineReader

    return LineReader().feed((run_dir / "events.jsonl").read_bytes())


def scalars(evs: list[dict], phase: str) -> list[dict]:
    return [e for e in evs if e["kind"] == "scalars" and e["phase"] == phase]


def run_span_s(evs: list[dict]) -> float:
    """Seconds from the engine's first event to its last status event (excludes interpreter start-up)."""
    status = [e for e in evs if e["kind"] == "status"]
    return round(status[-1]["t"] - evs[0]["t"], 1)


def median_rate(train_evs: list[dict]) -> float:
    """Median of steps / elapsed seconds between consecutive train logs (training only, robust to evals)."""
    rates = sorted(
        (b["step"] - a["step"]) / (b["elapsed_s"] - a["elapsed_s"])
        for a, b in itertools.pairwise(train_evs)
        if b["elapsed_s"] > a["elapsed_s"]
    )
    return round(rates[len(rates) // 2], 2) if rates else 0.0


def digits(runs_dir: Path, reuse: bool) -> dict:
    import jax
    import numpy as np

    from tasks.sample import load_trained
    from xaxengine.task.loggers import media

    cnn_dir, cnn_time = train("tasks/mnist_cnn.toml", runs_dir, "cnn", reuse)
    cnn_events = events(cnn_dir)
    cnn_valid = scalars(cnn_events, "valid")
    diff_dir, diff_time = train("tasks/mnist_diffusion.toml", runs_dir, "diffusion", reuse)
    diff_events = events(diff_dir)

    _, classifier, _ = load_trained(cnn_dir)
    task, model, step = load_trained(diff_dir)
    classify = jax.jit(jax.vmap(classifier))
    labels = np.repeat(np.arange(10), PER_CLASS)
    by_scale = {}
    grid = None
    for scale in GUIDANCE_SCALES:
        task.config.guidance_scale = scale
        start = time.perf_counter()
        images = task.sample(model, labels, seed=1)
        sample_s = time.perf_counter() - start
        predicted = np.asarray(np.argmax(classify(images[:, None]), axis=-1))
        hits = predicted == labels
        by_scale[str(scale)] = {
            "agreement": round(float(hits.mean()), 4),
            "per_digit": [round(float(hits[labels == d].mean()), 3) for d in range(10)],
            "sample_s": round(sample_s, 1),
        }
        if scale == 2.0:
            grid = images.reshape(10, PER_CLASS, *images.shape[1:])[:, :10].reshape(-1, *images.shape[1:])
    assert grid is not None
    docs = REPO / "docs" / "diffusion_samples.png"
    media.write_png(docs, media.image_grid(grid.repeat(4, axis=1).repeat(4, axis=2), ncols=10, pad=2))
    return {
        "machine": machine(),
        "classifier": {
            "config": "tasks/mnist_cnn.toml",
            "valid_accuracy": cnn_valid[-1]["values"]["accuracy"],
            "valid_accuracy_curve": [[e["step"], round(e["values"]["accuracy"], 4)] for e in cnn_valid],
            "engine_span_s": run_span_s(cnn_events),
            **cnn_time,
        },
        "diffusion": {
            "config": "tasks/mnist_diffusion.toml",
            "checkpoint_step": step,
            "final_valid_loss": scalars(diff_events, "valid")[-1]["values"]["loss"],
            "sampler": f"{task.config.sampler} {task.config.sample_steps} steps",
            "samples_per_digit": PER_CLASS,
            "classifier_agreement_by_guidance": by_scale,
            "grid": str(docs.relative_to(REPO)),
            "engine_span_s": run_span_s(diff_events),
            **diff_time,
        },
    }


def shakespeare(runs_dir: Path, reuse: bool) -> dict:
    run_dir, timing = train("tasks/shakespeare.toml", runs_dir, "lm", reuse)
    evs = events(run_dir)
    train_evs, valid_evs = scalars(evs, "train"), scalars(evs, "valid")
    start = next(e for e in evs if e["kind"] == "run_start")
    running = next(e for e in evs if e["kind"] == "status" and e["state"] == "running")
    finished = [e for e in evs if e["kind"] == "status"][-1]
    steps = finished["step"]
    first_below = next((e for e in valid_evs if e["values"]["loss"] <= 1.9), None)
    texts = [e for e in evs if e["kind"] == "text"]
    cfg = start["config"]
    return {
        "machine": machine(),
        "config": {
            "file": "tasks/shakespeare.toml",
            "model": {k: cfg[k] for k in ("dim", "num_layers", "num_heads", "mlp_ratio", "block_size")},
            "batch_size": cfg["data"]["batch_size"],
            "max_steps": cfg["train"]["max_steps"],
            "lr": cfg["optimizer"]["lr"],
            "dataset": cfg["dataset"],
        },
        "final_valid_loss_nats_per_char": valid_evs[-1]["values"]["loss"],
        "first_valid_at_or_below_1.9": None
        if first_below is None
        else {"step": first_below["step"], "elapsed_s": round(first_below["elapsed_s"], 1)},
        "valid_loss_vs_time": [[e["step"], round(e["elapsed_s"], 1), round(e["values"]["loss"], 4)] for e in valid_evs],
        "train_loss_vs_time": [[e["step"], round(e["elapsed_s"], 1), round(e["values"]["loss"], 4)] for e in train_evs],
        "steps_per_s_training": round(steps / (finished["t"] - running["t"]), 2),
        "steps_per_s_between_logs_median": median_rate(train_evs),
        "engine_span_s": run_span_s(evs),
        "sample": texts[-1]["text"] if texts else None,
        **timing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["digits", "shakespeare", "all"])
    parser.add_argument("--runs-dir", type=Path, default=Path("/tmp/xax-train-quality"))
    parser.add_argument("--reuse", action="store_true", help="Report on finished runs instead of training.")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = ["digits", "shakespeare"] if args.which == "all" else [args.which]
    for part in parts:
        result = digits(args.runs_dir, args.reuse) if part == "digits" else shakespeare(args.runs_dir, args.reuse)
        out = RESULTS / f"train_quality_{part}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2)[:3000])


if __name__ == "__main__":
    main()
