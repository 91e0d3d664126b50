"""Soak: SIGKILL the engine at random steps, resume, and compare the whole loss curve with an uninterrupted run.

The run is ``tasks/digits_augment.toml``: a per-example transform (random crop and flip) built in
``data.num_workers = 2`` Grain worker processes. Each round starts a fresh run, kills it with SIGKILL at a random
step (after at least one checkpoint landed), checks that its worker processes exit too, resumes it with
``xaxengine resume`` under a random ``data.num_workers`` (0, 1 or 2: the data order must not depend on it),
possibly kills it again, and finally checks that the per-step training losses equal the uninterrupted reference
bit for bit. Results: bench/results/soak_kill_resume.json.

    python bench/soak_kill_resume.py [--kills 10] [--max-steps 150]
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from bench.machine import machine  # noqa: E402
from xaxengine.protocol import read_events  # noqa: E402

ENGINE = str(Path(sys.executable).parent / "xaxengine")
TOML = "tasks/digits_augment.toml"
CONFIG = [
    "hidden=32",
    "data.num_workers=2",
    "train.log_every_n_steps=1",
    "train.valid_every_n_steps=0",
    "checkpoint.save_every_n_steps=15",
    "logger.progress=off",
    "logger.tensorboard=false",
]
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def losses(run_dir: Path) -> dict[int, float]:
    """Per-step train loss, the last logged value winning."""
    return {
        e["step"]: e["values"]["loss"]
        for e in read_events(run_dir / "events.jsonl")
        if e["kind"] == "scalars" and e["phase"] == "train"
    }


def run_until_killed(cmd: list[str], run_dir: Path, kill_at: int) -> tuple[bool, int, int]:
    """Runs cmd and SIGKILLs it once step >= kill_at and a checkpoint exists.

    Returns:
        Whether it was killed (False: it finished first), how many worker processes it had, and how many of its
        multiprocessing children (workers, resource tracker) were still alive 20 s after the kill (orphans).
    """
    proc = psutil.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        if (run_dir / "events.jsonl").exists():
            evs = list(read_events(run_dir / "events.jsonl"))
            step = max((e["step"] for e in evs if e["kind"] == "scalars"), default=0)
            if step >= kill_at and any(e["kind"] == "checkpoint" for e in evs):
                children = [(c, " ".join(_cmdline(c))) for c in proc.children(recursive=True)]
                workers = sum("spawn_main" in line for _, line in children)  # Grain's spawned workers
                helpers = [c for c, line in children if "multiprocessing" in line]  # and the resource tracker
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                _, alive = psutil.wait_procs(helpers, timeout=20)
                return True, workers, len(alive)
        time.sleep(0.01)
    return False, 0, 0


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def run_dir_of(runs: Path, run_id: str) -> Path:
    """``RUNS/<task dir>/<run id>``."""
    return next(p / run_id for p in runs.iterdir() if (p / run_id).is_dir())


def main() -> None:
    """Runs the soak and writes the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "soak_kill_resume.json"))
    args = parser.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="xax-soak-"))
    start, before = time.time(), machine()
    base = [ENGINE, "run", TOML, *CONFIG, f"train.max_steps={args.max_steps}", "--runs-dir", str(runs)]
    subprocess.run([*base, "--run-id", "reference"], cwd=REPO, env=ENV, check=True, capture_output=True)
    reference = losses(run_dir_of(runs, "reference"))
    rng = random.Random(0)
    rounds, kills = [], 0
    while kills < args.kills:
        run_id = f"soak{len(rounds)}"
        kill_steps = sorted(rng.sample(range(20, args.max_steps - 10), k=min(2, args.kills - kills)))
        done_kills, workers, orphans, resumed_with = [], [], 0, []
        cmd = [*base, "--run-id", run_id]
        run_dir = run_dir_of(runs, "reference").parent / run_id  # the task's folder, known from the reference
        for kill_at in kill_steps:
            killed, count, alive = run_until_killed(cmd, run_dir, kill_at)
            if killed:
                done_kills.append(kill_at)
                workers.append(count)
                orphans += alive
            resumed_with.append(rng.choice([0, 1, 2]))
            cmd = [ENGINE, "resume", str(run_dir), f"data.num_workers={resumed_with[-1]}"]
        final = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, check=False)
        identical = final.returncode == 0 and losses(run_dir) == reference
        kills += len(done_kills)
        rounds.append(
            {
                "run": run_id,
                "killed_at": done_kills,
                "workers_at_kill": workers,
                "orphaned_workers": orphans,
                "resumed_with_num_workers": resumed_with,
                "exit": final.returncode,
                "identical": identical,
            }
        )
        sys.stderr.write(f"{rounds[-1]}\n")
    identical_kills = sum(len(r["killed_at"]) for r in rounds if r["identical"])
    result = {
        "task": TOML,
        "config": CONFIG,
        "kills": kills,
        "kills_with_identical_curve": identical_kills,
        "orphaned_workers": sum(r["orphaned_workers"] for r in rounds),
        "rounds": rounds,
        "max_steps": args.max_steps,
        "seconds": time.time() - start,
        "machine_before": before,
        "machine_after": machine(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(f"{identical_kills}/{kills} kills resumed to an identical loss curve\n")
    sys.exit(0 if identical_kills == kills and not result["orphaned_workers"] else 1)


if __name__ == "__main__":
    main()
