"""Helpers: run the real CLI, SIGKILL it after its first checkpoint, read the per-step losses back."""

import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.conftest import BIN, REPO, engine_env
from xaxengine.protocol import read_events


def events(run_dir: Path) -> list[dict]:
    return list(read_events(run_dir / "events.jsonl"))


def train_losses(run_dir: Path) -> dict[int, float]:
    """The loss per step, the last logged value winning (a resumed run re-logs the steps after its checkpoint)."""
    return {e["step"]: e["values"]["loss"] for e in events(run_dir) if e["kind"] == "scalars" and e["phase"] == "train"}


def final_status(run_dir: Path) -> dict:
    return [e for e in events(run_dir) if e["kind"] == "status"][-1]


def run_dir_of(runs: Path, run_id: str) -> Path:
    """``RUNS/<task dir>/<run id>``."""
    return next(p for p in runs.iterdir() if (p / run_id).is_dir()) / run_id


def kill_after_first_checkpoint(runs: Path, run_id: str, toml: str, *args: str) -> tuple[Path, list[psutil.Process]]:
    """Starts a run, SIGKILLs it once a checkpoint event was written; returns its directory and its child processes."""
    cmd = [str(BIN / "xaxengine"), "run", toml, *args, "--runs-dir", str(runs), "--run-id", run_id]
    proc = subprocess.Popen(cmd, cwd=REPO, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    run_dir = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, "engine exited before its first checkpoint"
        if run_dir is None:  # the task folder appears a moment before the run folder inside it
            run_dir = next((p / run_id for p in runs.iterdir() if (p / run_id).is_dir()), None)
        journal = run_dir / "events.jsonl" if run_dir is not None else None
        if journal is not None and journal.exists() and any(e["kind"] == "checkpoint" for e in events(run_dir)):
            break
        time.sleep(0.01)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert run_dir is not None
    return run_dir, children
