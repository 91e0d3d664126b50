"""The launch section without subprocesses: cluster environments (XAX_*, Slurm), batch checks, the sbatch script."""

from pathlib import Path

import pytest

from tests.conftest import run_engine
from xaxengine.config import ConfigError
from xaxengine.launch_config import LaunchConfig
from xaxengine.task.launchers.base import (
    check_batch,
    cluster_from_env,
    devices_per_process,
    expand_nodelist,
)
from xaxengine.task.launchers.slurm import SlurmError, SlurmJob, slurm_script, submit, write_script


@pytest.mark.parametrize(
    ("nodelist", "hosts"),
    [
        ("node01", ["node01"]),
        ("node[01-03]", ["node01", "node02", "node03"]),
        ("gpu[1,3-4],login7", ["gpu1", "gpu3", "gpu4", "login7"]),
        ("a[008-010],b[2]", ["a008", "a009", "a010", "b2"]),
    ],
)
def test_expand_nodelist(nodelist, hosts):
    assert expand_nodelist(nodelist) == hosts


def test_no_cluster_without_variables():
    assert cluster_from_env(LaunchConfig(), {}) is None


def test_slurm_variables_give_coordinator_count_and_rank():
    env = {"SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "node[07-10]", "SLURM_LOCALID": "0"}
    cluster = cluster_from_env(LaunchConfig(), env)
    assert cluster is not None
    assert (cluster.coordinator_address, cluster.num_processes, cluster.process_id) == ("node07:12355", 4, 2)
    env["XAX_COORDINATOR_PORT"] = "4000"
    assert cluster_from_env(LaunchConfig(), env).coordinator_address == "node07:4000"


def test_xax_variables_win_over_slurm_and_config_wins_over_both():
    env = {
        "XAX_COORDINATOR_ADDRESS": "10.0.0.1:999",
        "XAX_NUM_PROCESSES": "3",
        "XAX_PROCESS_ID": "1",
        "SLURM_PROCID": "0",
        "SLURM_NTASKS": "8",
        "SLURM_JOB_NODELIST": "n1",
    }
    assert cluster_from_env(LaunchConfig(), env).coordinator_address == "10.0.0.1:999"
    config = LaunchConfig(coordinator_address="h:1", num_processes=2, process_id=1)
    cluster = cluster_from_env(config, env)
    assert (cluster.coordinator_address, cluster.num_processes, cluster.process_id) == ("h:1", 2, 1)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"XAX_PROCESS_ID": "0"}, "XAX_COORDINATOR_ADDRESS"),
        ({"XAX_PROCESS_ID": "5", "XAX_NUM_PROCESSES": "2", "XAX_COORDINATOR_ADDRESS": "h:1"}, "outside 0..1"),
        ({"XAX_PROCESS_ID": "0", "XAX_NUM_PROCESSES": "2", "XAX_COORDINATOR_ADDRESS": "nohost"}, "HOST:PORT"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "x", "SLURM_JOB_NODELIST": "n1"}, "bad cluster environment"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": ""}, "NODELIST"),
    ],
)
def test_bad_cluster_variables_are_one_line_errors(env, message):
    with pytest.raises(ConfigError, match=message):
        cluster_from_env(LaunchConfig(), env)


def test_batch_must_divide_over_devices():
    check_batch(32, 4, "x")
    with pytest.raises(ConfigError, match=r"batch_size=30 does not divide over 4 devices"):
        check_batch(30, 4, "launch.layout=multi_cpu")


def test_num_devices_zero_means_the_layouts_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert devices_per_process(LaunchConfig(layout="multi_device")) == 0  # every local device, resolved by JAX
    assert devices_per_process(LaunchConfig(layout="multi_cpu")) == 8  # one per core, at most 8
    assert devices_per_process(LaunchConfig(layout="multi_process")) == 1
    assert devices_per_process(LaunchConfig(layout="multi_cpu", num_devices=3)) == 3


def test_multi_device_asking_for_more_devices_than_visible_is_bad_input(runs_dir: Path):
    proc = run_engine(
        "run", "tasks/mnist.toml", "--layout", "multi_device", "--num-devices", "3", "--runs-dir", str(runs_dir)
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "xaxengine: error: launch.num_devices=3 but only 1 devices are visible (launch.layout=multi_device)"
    )
    assert not any(runs_dir.iterdir())


def test_sbatch_script(tmp_path: Path):
    job = SlurmJob(
        toml=Path("tasks/mnist.toml"),
        runs_dir=tmp_path / "shared" / "runs",
        run_id="20261125-000000-abcd",
        job_name="xax-mnist",
        nodes=3,
        gpus_per_node=8,
        partition="gpu",
        time="04:00:00",
        overrides=["train.max_steps=100", "optimizer.lr=3e-4"],
        engine="/venv/bin/xaxengine",
        workdir=tmp_path,
    )
    script = slurm_script(job)
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    for line in (
        "#SBATCH --job-name=xax-mnist",
        "#SBATCH --nodes=3",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=04:00:00",
        f"#SBATCH --output={tmp_path}/shared/runs/slurm/%x-%j.out",
        f"cd {tmp_path}",
        "#SBATCH --no-requeue",
    ):
        assert line in lines, line
    assert "XAX_COORDINATOR_PORT" not in script  # the ranks derive the port from SLURM_JOB_ID (base.slurm_port)
    srun = next(line for line in lines if line.startswith("srun "))
    assert srun == 'srun --kill-on-bad-exit=1 /venv/bin/xaxengine "$@"'
    start = next(line for line in lines if line.startswith("  set -- run "))
    assert start.split()[3].endswith("tasks/mnist.toml")
    assert "train.max_steps=100 optimizer.lr=3e-4 launch.layout=multi_process" in start
    assert start.endswith(f"--runs-dir {tmp_path}/shared/runs --run-id 20261125-000000-abcd")
    cpu_only = slurm_script(SlurmJob(Path("t.toml"), tmp_path, "r", "j", nodes=2))
    assert "--gpus-per-node" not in cpu_only and "--partition" not in cpu_only
    path = write_script(job)
    assert path == tmp_path / "shared" / "runs" / "slurm" / "20261125-000000-abcd.sbatch"
    assert path.read_text() == script and path.stat().st_mode & 0o100


def test_submit_without_sbatch_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SlurmError, match="sbatch not found"):
        submit(tmp_path / "job.sbatch")


def test_submit_calls_sbatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = tmp_path / "sbatch"
    script = tmp_path / "job.sbatch"
    fake.write_text(f'#!/bin/sh\n[ "$1 $2" = "--parsable {script}" ] && echo "42;cluster" && exit 0\nexit 9\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert submit(script) == "42"
    fake.write_text('#!/bin/sh\necho "sbatch: error: Batch job submission failed: Invalid account" >&2\nexit 1\n')
    with pytest.raises(SlurmError, match=f"^sbatch refused {script}: Invalid account$"):
        submit(script)
