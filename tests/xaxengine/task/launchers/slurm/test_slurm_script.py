"""The sbatch script and the coordinator port, without a cluster (the real-cluster tests are in test_slurm.py)."""

from pathlib import Path

import pytest

from xaxengine.launch_config import LaunchConfig
from xaxengine.task.launchers.base import DEFAULT_PORT, cluster_from_env, slurm_port
from xaxengine.task.launchers.slurm import SlurmError, SlurmJob, slurm_script


def _job(tmp_path: Path, **fields: object) -> SlurmJob:
    base = {"toml": Path("tasks/mnist.toml"), "runs_dir": tmp_path, "run_id": "r1", "job_name": "xax-mnist"}
    return SlurmJob(**base, task_dir="mnist", engine="/venv/bin/xaxengine", **fields)  # ty: ignore[invalid-argument-type]


def test_script_requests_tasks_requeue_and_signal_and_resumes_an_existing_run(tmp_path: Path):
    text = slurm_script(_job(tmp_path, tasks_per_node=2, signal="TERM@60", requeue=True, gpus_per_node=4))
    lines = text.splitlines()
    for line in ("#SBATCH --ntasks-per-node=2", "#SBATCH --signal=TERM@60", "#SBATCH --requeue"):
        assert line in lines
    assert f"RUN_DIR={tmp_path.resolve() / 'mnist' / 'r1'}" in lines
    assert (
        'if [ -f "$RUN_DIR/config.toml" ]; then  # requeued or resubmitted: continue from the newest checkpoint'
        in lines
    )
    assert '  set -- resume "$RUN_DIR"' in lines
    assert lines[-1] == 'srun --kill-on-bad-exit=1 --gpus-per-task=2 /venv/bin/xaxengine "$@"'
    assert "#SBATCH --no-requeue" in slurm_script(_job(tmp_path)).splitlines()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tasks_per_node": 0}, "--nodes and --tasks-per-node must be at least 1"),
        ({"tasks_per_node": 3, "gpus_per_node": 4}, "--gpus-per-node 4 does not split over 3 tasks"),
        ({"signal": "TERM 60"}, "--signal 'TERM 60' is not SIG[@SECONDS]"),
    ],
)
def test_bad_resources_are_one_line(tmp_path: Path, fields: dict, message: str):
    with pytest.raises(SlurmError, match=message.replace("[", r"\[").replace("]", r"\]")):
        slurm_script(_job(tmp_path, **fields))


def test_port_comes_from_the_job_id_unless_set():
    env = {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "node[3-4]", "SLURM_JOB_ID": "123"}
    assert slurm_port("123") == DEFAULT_PORT + 123 and slurm_port("") == DEFAULT_PORT
    joined = cluster_from_env(LaunchConfig(), env)
    assert joined is not None and joined.coordinator_address == f"node3:{DEFAULT_PORT + 123}"
    pinned = cluster_from_env(LaunchConfig(), {**env, "XAX_COORDINATOR_PORT": "5000"})
    assert pinned is not None and pinned.coordinator_address == "node3:5000" and pinned.process_id == 1
