"""``xaxengine ls --json`` of runs submitted to the real one-node cluster: what Slurm says of each job is listed.

A blocker job holds every CPU of the node, so a submitted run waits in the queue: it lists ``pending`` with its
reason before it has written an event; cancelled while it waits it lists ``failed`` (Slurm said ``CANCELLED``);
once the blocker is gone the next one lists its job running on the node.
"""

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_engine
from tests.xaxengine.task.launchers.slurm.test_slurm import SMALL, TWO_TASKS


def _submit(runs: Path, run_id: str) -> str:
    args = ["slurm", "tasks/mnist.toml", *SMALL, "train.max_steps=100000", *TWO_TASKS, "--runs-dir", str(runs)]
    proc = run_engine(*args, "--run-id", run_id, "--submit")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("Submitted batch job ")[1].split()[0]


def _listed(runs: Path) -> dict[str, dict]:
    proc = run_engine("ls", "--json", "--runs-dir", str(runs))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return {row["run_id"]: row for row in json.loads(proc.stdout)}


def _until(runs: Path, run_id: str, done: Callable[[dict], bool], timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        row = _listed(runs).get(run_id)
        if row is not None and done(row):
            return row
        assert time.monotonic() < deadline, f"{run_id}: {row}"
        time.sleep(0.5)


def test_a_queued_run_lists_pending_a_cancelled_one_failed_and_a_started_one_its_node(slurm: Any, tmp_path: Path):
    runs = tmp_path / "runs"
    cpus = str(os.cpu_count() or 1)  # the cluster's node has them all
    blocker = slurm.run("sbatch", "--parsable", "-N1", "-n", cpus, "-o", "/dev/null", "--wrap", "sleep 600").stdout
    jobs = [blocker.strip()]
    try:
        assert jobs[0].isdigit(), blocker
        jobs.append(_submit(runs, "queued"))
        # right after sbatch the job pends with no reason yet (the scheduler gives one at its next pass)
        row = _until(runs, "queued", lambda r: r["slurm"]["state"] == "PENDING" and bool(r["slurm"]["reason"]))
        assert (row["state"], row["alive"], row["slurm"]["job_id"]) == ("pending", False, jobs[1])
        assert row["reason"] in (f"Slurm job {jobs[1]} PENDING (Resources)", f"Slurm job {jobs[1]} PENDING (Priority)")
        assert not (runs / "mnist" / "queued" / "events.jsonl").exists()
        slurm.run("scancel", jobs[1])
        row = _until(runs, "queued", lambda r: r["slurm"]["state"] == "CANCELLED")
        assert (row["state"], row["reason"]) == ("failed", f"Slurm job {jobs[1]} CANCELLED")
        jobs.append(_submit(runs, "started"))
        _until(runs, "started", lambda r: r["state"] == "pending")
        slurm.run("scancel", jobs[0])
        row = _until(runs, "started", lambda r: r["slurm"]["state"] == "RUNNING")
        assert (row["slurm"]["nodes"], row["alive"]) == (slurm.node, True)
    finally:
        slurm.run("scancel", *jobs)
    row = _until(runs, "started", lambda r: r["slurm"]["state"] not in ("RUNNING", "COMPLETING"))
    assert row["state"] in ("interrupted", "failed") and not row["alive"]
