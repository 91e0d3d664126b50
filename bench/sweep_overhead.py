"""What a sweep costs beyond its trials, and whether TPE beats random search on the digits task.

Overhead (``--part overhead``): sweeps of short digits trials at ``parallel`` 1 and 2. Reports the driver's own CPU
time (its ``getrusage(RUSAGE_SELF)``, written to status.json) per trial and as a share of the sweep's CPU (the driver
plus every engine it reaped, from this process's ``RUSAGE_CHILDREN``), the gap between a trial's engine ending and
the next one starting on the same slot, the engine's own start-up (launch to ``running``), and trials per hour.

Quality (``--part quality``): TPE vs random search over ``optimizer.lr``, ``optimizer.weight_decay`` and ``hidden``,
``--trials`` trials each, several sampler seeds, no pruning, against the task's default config trained the same
number of steps. Long: run it only when there is time.

    python bench/sweep_overhead.py [--part overhead|quality|all] [--trials 16] [--seeds 0 1 2]

Results: bench/results/sweep_overhead.json (the parts run are merged into it).
"""

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "sweep_overhead.json"
ENGINE = Path(sys.executable).parent / "xaxengine"
ENV = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "JAX_PLATFORMS": "cpu"}

SHORT = ["train.max_steps=60", "train.log_every_n_steps=20", "train.valid_every_n_steps=20", "depth=1"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_sweep(folder: Path, body: str) -> Path:
    (folder / "mnist.toml").write_text((REPO / "tasks" / "mnist.toml").read_text())
    path = folder / "bench.sweep.toml"
    path.write_text('task = "mnist.toml"\n' + body)
    return path


def run_sweep(path: Path, runs_dir: Path) -> tuple[dict, float, float]:
    """Runs a sweep to its end; returns its status.json, wall seconds and the CPU seconds of everything it ran."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [str(ENGINE), "sweep", str(path), "--runs-dir", str(runs_dir)],
        cwd=REPO, env=ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"sweep failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    (status_file,) = (runs_dir / "sweeps").glob("*/status.json")
    return json.loads(status_file.read_text()), wall, cpu


def engine_startup(run_dir: Path, launched_t: float) -> float | None:
    """Seconds from the engine's launch to its ``running`` status."""
    from xaxengine.protocol import read_events

    for event in read_events(run_dir / "events.jsonl"):
        if event["kind"] == "status" and event.get("state") == "running":
            return event["t"] - launched_t
    return None


def final_event_t(run_dir: Path) -> float | None:
    """Wall time of a run's last ``status`` event (its engine's end, before the process exits)."""
    from xaxengine.protocol import read_events

    times = [e["t"] for e in read_events(run_dir / "events.jsonl") if e["kind"] == "status"]
    return times[-1] if times else None


def engine_end_gaps(status: dict) -> list[float]:
    """Per slot: the next launch minus the previous trial's final status event (engine shutdown included)."""
    gaps = []
    for slot in {r["slot"] for r in status["rows"]}:
        rows = sorted((r for r in status["rows"] if r["slot"] == slot), key=lambda r: r["started_t"])
        for previous, following in itertools.pairwise(rows):
            if (end := final_event_t(Path(previous["run_dir"]))) is not None:
                gaps.append(following["started_t"] - end)
    return gaps


def slot_gaps(status: dict) -> list[float]:
    """Per slot: the next launch minus the previous end."""
    gaps = []
    for slot in {s for s, _ in status["launches"]}:
        starts = sorted(t for s, t in status["launches"] if s == slot)
        ends = sorted(t for s, t in status["ends"] if s == slot)
        gaps += [start - end for end, start in zip(ends, starts[1:], strict=False)]
    return gaps


def overhead(trials: int) -> dict:
    results = {}
    for parallel in (1, 2):
        with tempfile.TemporaryDirectory(prefix="xax-sweep-bench-") as tmp:
            body = (
                f'objective = "valid/accuracy"\ndirection = "maximize"\ntrials = {trials}\nparallel = {parallel}\n'
                f'sampler = "random"\npruner = "none"\noverrides = {json.dumps(SHORT)}\n\n[params]\n'
                '"optimizer.lr" = { log_uniform = [1e-3, 1e-2] }\n'
            )
            status, wall, cpu = run_sweep(write_sweep(Path(tmp), body), Path(tmp) / "runs")
            startups = [
                s for r in status["rows"] if (s := engine_startup(Path(r["run_dir"]), r["started_t"])) is not None
            ]
            gaps, end_gaps = slot_gaps(status), engine_end_gaps(status)
            results[f"parallel_{parallel}"] = {
                "trials": trials,
                "wall_s": round(wall, 2),
                "trials_per_hour": round(trials / wall * 3600, 1),
                "sweep_cpu_s": round(cpu, 2),
                "driver_cpu_s": round(status["driver_cpu_s"], 3),
                "driver_cpu_per_trial_s": round(status["driver_cpu_s"] / trials, 3),
                "driver_cpu_before_first_trial_s": round(status["driver_cpu_before_loop_s"], 3),
                "driver_cpu_per_trial_after_start_s": round(
                    (status["driver_cpu_s"] - status["driver_cpu_before_loop_s"]) / trials, 3
                ),
                "driver_cpu_share": round(status["driver_cpu_s"] / cpu, 4),
                "gap_end_to_next_start_s": {
                    "median": round(statistics.median(gaps), 3) if gaps else None,
                    "max": round(max(gaps), 3) if gaps else None,
                },
                "gap_final_event_to_next_start_s": {
                    "median": round(statistics.median(end_gaps), 3) if end_gaps else None,
                    "max": round(max(end_gaps), 3) if end_gaps else None,
                },
                "engine_startup_to_running_s_median": round(statistics.median(startups), 2) if startups else None,
            }
            print(f"parallel {parallel}: {json.dumps(results[f'parallel_{parallel}'])}", flush=True)
    return results


QUALITY_SPACE = """
[params]
"optimizer.lr" = { log_uniform = [1e-4, 1e-1] }
"optimizer.weight_decay" = { log_uniform = [1e-6, 1e-1] }
hidden = { choice = [64, 128, 256, 512] }
"""


def default_config_accuracy(steps: int) -> float:
    from xaxengine.protocol import read_events

    with tempfile.TemporaryDirectory(prefix="xax-sweep-default-") as tmp:
        subprocess.run(
            [str(ENGINE), "run", "tasks/mnist.toml", f"train.max_steps={steps}", "--runs-dir", tmp],
            cwd=REPO, env=ENV, capture_output=True, check=True,
        )  # fmt: skip
        (events,) = Path(tmp).glob("*/*/events.jsonl")
        valid = [e for e in read_events(events) if e["kind"] == "scalars" and e["phase"] == "valid"]
        return float(valid[-1]["values"]["accuracy"])


def quality(trials: int, seeds: list[int], steps: int) -> dict:
    baseline = default_config_accuracy(steps)
    print(f"default config ({steps} steps): valid accuracy {baseline:.4f}", flush=True)
    runs: dict[str, list[dict]] = {"tpe": [], "random": []}
    for seed in seeds:
        for sampler in ("tpe", "random"):
            with tempfile.TemporaryDirectory(prefix="xax-sweep-quality-") as tmp:
                body = (
                    f'objective = "valid/accuracy"\ndirection = "maximize"\ntrials = {trials}\nparallel = 2\n'
                    f'sampler = "{sampler}"\nseed = {seed}\npruner = "none"\n'
                    f'overrides = ["train.max_steps={steps}"]\n' + QUALITY_SPACE
                )
                status, wall, _ = run_sweep(write_sweep(Path(tmp), body), Path(tmp) / "runs")
                values = [r["value"] for r in sorted(status["rows"], key=lambda r: r["number"])]
                best_so_far = [max(v for v in values[: i + 1] if v is not None) for i in range(len(values))]
                entry = {"seed": seed, "best": status["best"]["value"], "best_params": status["best"]["params"],
                         "best_so_far": best_so_far, "wall_s": round(wall, 1)}  # fmt: skip
                runs[sampler].append(entry)
                print(f"{sampler} seed {seed}: best {entry['best']:.4f} ({wall:.0f}s)", flush=True)
    summary = {
        s: {"mean_best": round(statistics.mean(r["best"] for r in v), 4), "bests": [r["best"] for r in v]}
        for s, v in runs.items()
    }
    return {"default_config_accuracy": baseline, "trials": trials, "steps": steps, "seeds": seeds, "summary": summary,
            "runs": runs}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["overhead", "quality", "all"], default="overhead")
    parser.add_argument("--overhead-trials", type=int, default=6)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["cpu_count"] = os.cpu_count()
    if args.part in ("overhead", "all"):
        results["overhead"] = overhead(args.overhead_trials)
    if args.part in ("quality", "all"):
        results["quality"] = quality(args.trials, args.seeds, args.steps)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
