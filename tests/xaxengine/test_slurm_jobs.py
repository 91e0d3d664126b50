"""What Slurm says about jobs, parsed from recordings of a real ``scontrol show job --oneliner``.

The recordings in ``tests/fixtures/slurm`` are Slurm 22.05's answers on the one-node test cluster
(``scripts/slurm_cluster.py``, 2 CPUs): ``pending`` while job 1 ran, 2 waited for resources, 3 and the array 4
(tasks 1-4) for priority; ``array`` after 1-3 were cancelled (tasks 1 and 2 run as jobs 5 and 6, 3-4 pend);
``node_fail`` after the node was set down under tasks 1 and 2.
"""

import pytest

from tests.conftest import SLURM_RECORDINGS, FakeSlurm
from xaxengine.runs import RunError
from xaxengine.slurm_jobs import JobState, JobSummary, job_state, job_states, parse_job_line, parse_jobs


def _recorded(name: str) -> str:
    return (SLURM_RECORDINGS / f"{name}.txt").read_text()


def test_a_pending_job_says_why_and_a_running_one_where():
    jobs = parse_jobs(_recorded("pending"))
    assert jobs["3"] == JobState("3", "PENDING", "Priority", 0, 0, "", 0)
    assert jobs["3"].describe() == "job 3 PENDING (Priority)" and not jobs["3"].ended
    assert jobs["2"].describe() == "job 2 PENDING (Resources)"
    assert jobs["1"].describe() == "job 1 RUNNING on vm"
    assert jobs["1"].summary() == JobSummary("1", "RUNNING", None, "vm", 0)


def test_a_node_failure_ends_the_job_with_its_reason():
    jobs = parse_jobs(_recorded("node_fail"))
    failed = jobs["5"]
    assert (failed.state, failed.reason, failed.nodes, failed.exit_signal) == ("NODE_FAIL", "NodeDown", "vm", 15)
    assert failed.ended and failed.result == 128 + 15
    assert failed.describe() == "job 5 NODE_FAIL (NodeDown)"
    assert jobs["1"].describe() == "job 1 CANCELLED" and jobs["1"].ended
    assert jobs["3"].reason == "Priority" and jobs["3"].describe() == "job 3 CANCELLED"  # cancelled while it waited
    assert jobs["3"].summary() == JobSummary("3", "CANCELLED", None, None, 0)


def test_array_tasks_are_found_by_their_own_id_and_by_array_and_task():
    jobs = parse_jobs(_recorded("array"))
    assert jobs["5"].state == jobs["4_1"].state == "RUNNING" and jobs["4_1"].job_id == "4_1"
    assert jobs["6"].nodes == jobs["4_2"].nodes == "vm"
    assert jobs["4"].state == jobs["4_3"].state == jobs["4_4"].state == "PENDING"  # one line for the pending range
    assert "4_5" not in jobs
    pending = parse_jobs(_recorded("pending"))
    assert {f"4_{t}" for t in range(1, 5)} <= set(pending) and pending["4_2"].reason == "Priority"


def test_lines_that_are_not_jobs_are_skipped():
    assert parse_job_line("No jobs in the system") is None
    assert parse_jobs("\n\nslurm_load_jobs error: Invalid job id specified\n") == {}
    odd = parse_job_line("JobId=9 JobState=FAILED ExitCode=(null) NodeList=(null) ArrayTaskId=x")
    assert odd is not None and (odd.exit_code, odd.nodes) == (0, "")


def test_many_jobs_cost_one_scontrol_call_and_one_job_asks_for_itself(fake_slurm: FakeSlurm):
    fake_slurm.answer("node_fail")
    states = job_states(["5", "7", "4_4", "99"])
    assert {k: v.state for k, v in states.items()} == {"5": "NODE_FAIL", "7": "RUNNING", "4_4": "RUNNING"}
    assert fake_slurm.calls() == ["show job --oneliner"]
    assert job_states(["6"])["6"].state == "NODE_FAIL"
    assert job_states(["99"]) == {} and job_state("99") is None and job_states([]) == {}
    assert fake_slurm.calls()[1:] == ["show job --oneliner 6", "show job --oneliner 99", "show job --oneliner 99"]
    assert (array := job_state("4")) is not None and (array.job_id, array.state) == ("4", "RUNNING")


def test_without_scontrol_or_with_a_failing_one_the_error_is_one_line(fake_slurm: FakeSlurm, monkeypatch, tmp_path):
    (fake_slurm.bin_dir / "scontrol").write_text(
        "#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact' >&2\nexit 1\n"
    )
    with pytest.raises(RunError, match=r"^scontrol show job failed \(exit 1\): slurm_load_jobs error: Unable to"):
        job_states(["1", "2"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RunError, match="scontrol not found on PATH"):
        job_states(["1", "2"])
