"""Slurm runs in the run catalogue: what Slurm says decides where the engine is not seen, in ``ls``, ``ls --json``
(and ``tail`` of a run with no events yet says it in its one line).

A fake ``scontrol`` answers from recordings of a real one (``tests/fixtures/slurm``, see ``test_slurm_jobs.py``):
in ``pending`` job 1 runs on node ``vm`` and job 3 waits (Priority); in ``node_fail`` job 5 ended NODE_FAIL and
job 1 CANCELLED. Run dirs are written by the engine's own writer; a lock file nobody holds is a gone engine.
"""

import json
import os
from pathlib import Path

import pytest

from tests.conftest import FakeSlurm, run_engine
from tests.xaxengine.test_catalog import TASK, RunWriter, ls_json
from xaxengine.catalog import RunInfo, list_runs, read_run_info
from xaxengine.slurm_jobs import JobSummary


def _slurm_run(runs_dir: Path, run_id: str, job_id: str, steps: int = 0, final: str | None = None) -> Path:
    """A run dir submitted as ``job_id``; with ``steps``, an engine that trained and is gone (an unheld lock)."""
    run_dir = runs_dir / "mnist" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "slurm_job").write_text(f"{job_id}\n")
    if steps:
        writer = RunWriter(run_dir)
        writer.start(pid=os.getpid())
        writer.train(1, steps)
        if final:
            writer.status(final, steps)
        (run_dir / "lock").write_text("1\n")  # not held: the engine is not running here
    return run_dir


def _plain_dead_run(runs_dir: Path) -> None:
    writer = RunWriter(runs_dir / "mnist" / "plain")
    writer.start(pid=os.getpid())
    writer.train(1, 5)
    (writer.run_dir / "lock").write_text("1\n")


@pytest.fixture
def slurm_runs(runs_dir: Path) -> Path:
    """Runs of jobs 3 (no events yet), 1 (trained 20 steps), 5 (trained 30 steps), 2 (finished), and a plain one."""
    _slurm_run(runs_dir, "queued", "3")
    _slurm_run(runs_dir, "elsewhere", "1", steps=20)
    _slurm_run(runs_dir, "crashed", "5", steps=30)
    _slurm_run(runs_dir, "done", "2", steps=10, final="finished")
    _plain_dead_run(runs_dir)
    return runs_dir


def test_a_queued_job_is_pending_and_a_running_one_live_though_its_engine_is_elsewhere(
    fake_slurm: FakeSlurm, slurm_runs: Path
):
    fake_slurm.answer("pending")
    rows = ls_json(slurm_runs)
    assert fake_slurm.calls() == ["show job --oneliner"]  # one call for the whole listing
    assert (rows["queued"]["state"], rows["queued"]["alive"], rows["queued"]["task"]) == ("pending", False, "mnist")
    queued = {"job_id": "3", "state": "PENDING", "reason": "Priority", "nodes": None, "restarts": 0}
    assert rows["queued"]["slurm"] == queued and rows["queued"]["reason"] == "Slurm job 3 PENDING (Priority)"
    assert (rows["elsewhere"]["state"], rows["elsewhere"]["alive"], rows["elsewhere"]["step"]) == ("running", True, 20)
    assert rows["elsewhere"]["slurm"]["nodes"] == "vm" and rows["elsewhere"]["task"] == TASK
    assert rows["plain"]["slurm"] is None and (rows["plain"]["state"], rows["plain"]["alive"]) == ("dead", False)
    table = {line.split()[0]: line for line in run_engine("ls", "--runs-dir", str(slurm_runs)).stdout.splitlines()}
    assert table["queued"].split()[2] == "pending" and table["queued"].endswith("  job 3 PENDING (Priority)")
    assert table["elsewhere"].split()[2] == "running" and table["elsewhere"].endswith("  job 1 RUNNING on vm")
    assert table["plain"].split()[2] == "dead" and table["plain"].endswith("/plain")


def test_a_job_ended_by_a_node_failure_without_a_final_status_reads_failed(fake_slurm: FakeSlurm, slurm_runs: Path):
    fake_slurm.answer("node_fail")
    before = (slurm_runs / "mnist" / "crashed" / "events.jsonl").read_bytes()
    runs = {r.run_id: r for r in list_runs(slurm_runs)}
    crashed = runs["crashed"]
    assert (crashed.state, crashed.alive, crashed.last_status, crashed.step) == ("failed", False, "running", 30)
    assert crashed.reason == "Slurm job 5 NODE_FAIL (NodeDown)"
    assert crashed.slurm == JobSummary("5", "NODE_FAIL", "NodeDown", "vm", 0)
    assert (runs["elsewhere"].state, runs["elsewhere"].reason) == ("failed", "Slurm job 1 CANCELLED")
    assert (runs["done"].state, runs["done"].reason) == ("finished", None)  # a final status stands
    assert runs["queued"].state == "failed"  # cancelled while it waited: it never ran
    assert runs["plain"].state == "dead" and runs["plain"].slurm is None
    assert (slurm_runs / "mnist" / "crashed" / "events.jsonl").read_bytes() == before  # derived, never written
    single = read_run_info(slurm_runs / "mnist" / "crashed")  # alone, it asks for its own job
    assert single is not None and single.state == "failed" and fake_slurm.calls()[-1] == "show job --oneliner 5"


def test_a_job_slurm_has_forgotten_keeps_the_lock_rule(fake_slurm: FakeSlurm, runs_dir: Path):
    fake_slurm.answer("pending")
    _slurm_run(runs_dir, "old", "77", steps=5)
    (info,) = list_runs(runs_dir)
    assert (info.state, info.alive, info.slurm) == ("dead", False, JobSummary("77"))


def test_without_scontrol_the_job_id_is_listed_and_its_state_left_out(slurm_runs, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    proc = run_engine("ls", "--runs-dir", str(slurm_runs), "--json")
    assert proc.returncode == 0 and proc.stderr == ""
    rows = {row["run_id"]: row for row in json.loads(proc.stdout)}
    empty = {"state": None, "reason": None, "nodes": None, "restarts": 0}
    assert rows["queued"]["slurm"] == {"job_id": "3", **empty} and rows["queued"]["state"] == "unknown"
    assert rows["elsewhere"]["slurm"] == {"job_id": "1", **empty} and rows["elsewhere"]["state"] == "dead"
    table = run_engine("ls", "--runs-dir", str(slurm_runs))
    assert table.returncode == 0 and table.stderr == ""
    assert any(line.startswith("queued ") and line.endswith("  job 3") for line in table.stdout.splitlines())


def test_ls_json_rows_of_slurm_runs_read_back_into_the_same_run_info(fake_slurm: FakeSlurm, slurm_runs: Path):
    fake_slurm.answer("pending")
    rows = json.loads(run_engine("ls", "--runs-dir", str(slurm_runs), "--json").stdout)
    local = {r.run_id: r for r in list_runs(slurm_runs)}
    assert {row["run_id"]: RunInfo.from_dict(row) for row in rows} == local
    assert RunInfo.from_dict({"run_id": "r", "slurm": {"job_id": "8"}}).slurm == JobSummary("8")
    assert RunInfo.from_dict({"run_id": "r", "slurm": None}).slurm is None


def test_tail_of_a_slurm_run_without_events_says_what_slurm_says_in_one_line(fake_slurm: FakeSlurm, slurm_runs: Path):
    fake_slurm.answer("pending")
    proc = run_engine("tail", str(slurm_runs / "mnist" / "queued"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.endswith("/mnist/queued: no events.jsonl; Slurm job 3 PENDING (Priority)\n")
    fake_slurm.answer("node_fail")
    proc = run_engine("tail", str(slurm_runs / "mnist" / "queued"), "--follow")
    assert proc.returncode == 2 and proc.stderr.endswith("no events.jsonl; Slurm job 3 CANCELLED\n"), proc.stderr
