"""Soak: SIGKILL the engine at random steps, resume, and compare the whole loss curve with an uninterrupted run.

Each round starts a fresh run, kills it with SIGKILL at a random step (after at least one checkpoint landed),
resumes it with `xaxengine resume`, possibly kills it again, and finally checks that the per-step training losses
equal the uninterrupted reference bit for bit. Results: bench/results/soak_kill_resume.json.

    python bench/soak_kill_resume.py [--kills 20] [--max-steps 150]
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

from xaxengine.protocol import read_events  # noqa: E402

ENGINE = str(Path(sys.executable).parent / "xaxengine")
CONFIG = [
    "hidden=32",
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


def run_until_killed(cmd: list[str], run_dir: Path, kill_at: int) -> bool:
    """Runs cmd and SIGKILLs it once step >= kill_at and a checkpoint exists; False if it finished first."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        if (run_dir / "events.jsonl").exists():
            evs = list(read_events(run_dir / "events.jsonl"))
            step = max((e["step"] for e in evs if e["kind"] == "scalars"), default=0)
            if step >= kill_at and any(e["kind"] == "checkpoint" for e in evs):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
        time.sleep(0.01)
    return False


def main() -> None:
    """Runs the soak and writes the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "soak_kill_resume.json"))
    args = parser.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="xax-soak-"))
    base = [ENGINE, "run", "tasks/mnist.toml", *CONFIG, f"train.max_steps={args.max_steps}", "--runs-dir", str(runs)]
    subprocess.run([*base, "--run-id", "reference"], cwd=REPO, env=ENV, check=True, capture_output=True)
    reference = losses(runs / "mnist" / "reference")
    rng = random.Random(0)
    rounds, kills, start = [], 0, time.time()
    while kills < args.kills:
        run_id = f"soak{len(rounds)}"
        run_dir = runs / "mnist" / run_id
        kill_steps = sorted(rng.sample(range(20, args.max_steps - 10), k=min(2, args.kills - kills)))
        done_kills = []
        cmd = [*base, "--run-id", run_id]
        for kill_at in kill_steps:
            if run_until_killed(cmd, run_dir, kill_at):
                done_kills.append(kill_at)
            cmd = [ENGINE, "resume", str(run_dir)]
        final = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, check=False)
        identical = final.returncode == 0 and losses(run_dir) == reference
        kills += len(done_kills)
        rounds.append({"run": run_id, "killed_at": done_kills, "exit": final.returncode, "identical": identical})
        sys.stderr.write(f"{rounds[-1]}\n")
    identical_kills = sum(len(r["killed_at"]) for r in rounds if r["identical"])
    result = {
        "kills": kills,
        "kills_with_identical_curve": identical_kills,
        "rounds": rounds,
        "max_steps": args.max_steps,
        "seconds": time.time() - start,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(f"{identical_kills}/{kills} kills resumed to an identical loss curve\n")
    sys.exit(0 if identical_kills == kills else 1)


if __name__ == "__main__":
    main()
