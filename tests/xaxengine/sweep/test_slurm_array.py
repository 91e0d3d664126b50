"""The sweep job array's script and command line, without a cluster (the real-cluster run is in the Slurm tests)."""

from pathlib import Path

from tests.conftest import REPO, run_engine
from xaxengine.slurm_jobs import array_task_state
from xaxengine.sweep.slurm_array import SweepArray, array_script

ARRAY_TASK = (
    "JobId=13 ArrayJobId=12 ArrayTaskId=1 JobName=xax-sweep-mnist JobState=RUNNING Reason=None Restarts=0 "
    "ExitCode=0:0 NodeList=node1"
)


def test_the_script_runs_one_joining_driver_per_array_task(tmp_path: Path):
    job = SweepArray(
        sweep_id="mnist-20261201-120000-abcd",
        sweep_dir=tmp_path / "sweeps" / "mnist-20261201-120000-abcd",
        storage="journal:/shared/study.journal",
        runs_dir=tmp_path,
        workers=3,
        cpus_per_task=4,
        gpus_per_worker=1,
        partition="gpu",
        engine="/opt/venv/bin/xaxengine",
        workdir=tmp_path,
    )
    lines = array_script(job).splitlines()
    for expected in ("#SBATCH --array=0-2", "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=4", "#SBATCH --gpus=1"):
        assert expected in lines
    assert "#SBATCH --partition=gpu" in lines and f"#SBATCH --output={tmp_path}/slurm/%x-%A_%a.out" in lines
    assert lines[-1] == (
        "srun --ntasks=1 /opt/venv/bin/xaxengine sweep --join mnist-20261201-120000-abcd "
        f"--storage journal:/shared/study.journal --runs-dir {tmp_path}"
    )


def test_an_array_task_record_is_named_job_underscore_task():
    state = array_task_state(ARRAY_TASK)
    assert state is not None
    assert (state.job_id, state.state, state.nodes) == ("12_1", "RUNNING", "node1")
    assert state.describe() == "job 12_1 RUNNING on node1"
    pending = array_task_state(ARRAY_TASK.replace("ArrayTaskId=1", "ArrayTaskId=1-2").replace("RUNNING", "PENDING"))
    assert pending is not None and pending.describe() == "job 12_1-2 PENDING"


def test_the_command_writes_the_script_and_creates_a_joinable_sweep(tmp_path: Path):
    done = run_engine("slurm", "--sweep", "tasks/mnist.sweep.toml", "--workers", "2", "--runs-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (tmp_path / "sweeps").iterdir()
    assert done.stdout.splitlines() == [
        str(sweep_dir / "slurm.sbatch"),
        f"sweep dir: {sweep_dir} (submit the script with sbatch)",
    ]
    assert (sweep_dir / "sweep.json").exists() and (sweep_dir / "study.journal").exists()
    assert "#SBATCH --array=0-1" in (sweep_dir / "slurm.sbatch").read_text()


def test_bad_sweep_array_requests_are_one_line_each(tmp_path: Path):
    cases = {
        ("--workers", "0"): "--workers must be at least 1, got 0",
        ("tasks/mnist.toml",): "give no task file or run id",
        ("--wait",): "--wait follows a submitted job: add --submit",
        ("--nodes", "2"): "--nodes and --tasks-per-node do not apply",
    }
    for extra, message in cases.items():
        done = run_engine("slurm", "--sweep", "tasks/mnist.sweep.toml", *extra, "--runs-dir", str(tmp_path))
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, (extra, done.stderr)
    missing = run_engine("slurm", "--sweep", str(tmp_path / "nope.sweep.toml"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "nope.sweep.toml" in missing.stderr
    neither = run_engine("slurm", cwd=REPO)
    assert neither.returncode == 2 and "give a task file, or --sweep SWEEP_TOML" in neither.stderr
    assert not (tmp_path / "sweeps").exists()  # nothing was created for a refused request
