"""``resume RUN --from best`` and ``--init-from RUN:best`` through the real CLI, on a run with a best checkpoint."""

from pathlib import Path

import pytest

from tests.conftest import run_engine
from xaxengine.checkpoint_choice import split_choice
from xaxengine.protocol import read_events

FAST = ["hidden=32", "logger.progress=off", "logger.tensorboard=false", "stats.enabled=false"]
# valid/loss falls as it trains, so with mode "max" the first validation (step 10) stays the best one
BEST_AT_10 = [
    "train.log_every_n_steps=10", "train.valid_every_n_steps=10", "checkpoint.save_every_n_steps=10",
    "checkpoint.max_to_keep=2", "checkpoint.keep_best=valid/loss", "checkpoint.keep_best_mode=max",
]  # fmt: skip


def events(run_dir: Path) -> list[dict]:
    return list(read_events(run_dir / "events.jsonl"))


@pytest.fixture(scope="module")
def best_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    proc = run_engine("run", "tasks/mnist.toml", *FAST, *BEST_AT_10, "train.max_steps=50", "--runs-dir", str(runs),
                      "--run-id", "b")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return runs / "mnist" / "b"


def test_split_choice():
    assert split_choice("runs/mnist/x:best") == ("runs/mnist/x", "best")
    assert split_choice("x:latest") == ("x", "latest")
    assert split_choice("x") == ("x", "latest")
    assert split_choice("odd:name") == ("odd:name", "latest")


def test_init_from_best_starts_from_the_best_step(best_run, runs_dir):
    proc = run_engine("run", "tasks/mnist.toml", *FAST, "train.max_steps=5", "train.valid_every_n_steps=0",
                      "--runs-dir", str(runs_dir), "--run-id", "ft", "--init-from", f"{best_run}:best")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    logs = [e["message"] for e in events(runs_dir / "mnist" / "ft") if e["kind"] == "log"]
    assert f"init-from {best_run / 'best_checkpoint'}: restored the checkpoint at step 10" in logs
    proc = run_engine("run", "tasks/mnist.toml", *FAST, "train.max_steps=5", "train.valid_every_n_steps=0",
                      "--runs-dir", str(runs_dir), "--run-id", "ft2", "--init-from", str(best_run))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    logs = [e["message"] for e in events(runs_dir / "mnist" / "ft2") if e["kind"] == "log"]
    assert any(m.endswith("restored the checkpoint at step 50") for m in logs), logs


def test_resume_from_best_continues_from_the_best_step(best_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(best_run, run_dir)
    proc = run_engine("resume", str(run_dir), "train.max_steps=30", "--from", "best")
    assert proc.returncode == 0, proc.stderr
    assert "resume --from best: step 10 (copied from best_checkpoint/); newer checkpoints 40, 50 set aside" in (
        proc.stderr
    )
    evs = events(run_dir)
    starts = [e for e in evs if e["kind"] == "run_start"]
    assert starts[-1]["resumed_from_step"] == 10
    after = evs[evs.index(starts[-1]) :]
    train_steps = [e["step"] for e in after if e["kind"] == "scalars" and e["phase"] == "train"]
    assert train_steps == [20, 30]
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names == ["20", "30", "40.superseded", "50.superseded"]  # max_to_keep=2 dropped the copied 10


def test_no_best_checkpoint_is_one_line(runs_dir):
    proc = run_engine("run", "tasks/mnist.toml", *FAST, "train.max_steps=5", "train.valid_every_n_steps=0",
                      "--runs-dir", str(runs_dir), "--run-id", "plain")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "mnist" / "plain"
    init_from = ["run", "tasks/mnist.toml", "--init-from", f"{run_dir}:best", "--runs-dir", str(runs_dir)]
    for args in (["resume", str(run_dir), "--from", "best"], init_from):
        proc = run_engine(*args)
        assert proc.returncode == 2
        assert proc.stderr == f"xaxengine: error: {run_dir}: no best checkpoint (none in best_checkpoint/: the run " \
            "needs checkpoint.keep_best and at least one validation)\n"  # fmt: skip
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["5"]  # untouched
    proc = run_engine("run", "tasks/mnist.toml", "--from", "best", "--runs-dir", str(runs_dir))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--init-from RUN:best" in proc.stderr


def test_python_m_resume_from_best_and_the_refusal_without_resume(best_run, tmp_path):
    import shutil
    import subprocess
    import sys

    from tests.conftest import REPO, engine_env

    run_dir = tmp_path / "copy"
    shutil.copytree(best_run, run_dir)

    def module(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tasks.mnist", *args], cwd=REPO, env=engine_env(),
                              capture_output=True, text=True, timeout=240, check=False)  # fmt: skip

    proc = module("--resume", str(run_dir), "--from", "best", "train.max_steps=20")
    assert proc.returncode == 0, proc.stderr
    starts = [e for e in events(run_dir) if e["kind"] == "run_start"]
    assert starts[-1]["resumed_from_step"] == 10
    proc = module("--from", "best", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--init-from RUN:best" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_resume_from_a_step_number_sets_the_newer_aside_and_names_missing_steps(best_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(best_run, run_dir)
    proc = run_engine("resume", str(run_dir), "--from", "30")  # max_to_keep=2 deleted it
    assert proc.returncode == 2
    assert proc.stderr == f"xaxengine: error: {run_dir}: no checkpoint of step 30 (checkpoints: 10, 40, 50)\n"
    proc = run_engine("resume", str(run_dir), "--from", "soon")
    assert proc.returncode == 2 and "expected latest, best or a checkpoint's step number, got 'soon'" in proc.stderr
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["40", "50"]  # both refusals: untouched
    proc = run_engine("resume", str(run_dir), "--from", "40")
    assert proc.returncode == 0, proc.stderr
    assert "resume --from 40: step 40; newer checkpoints 50 set aside" in proc.stderr
    evs = events(run_dir)
    starts = [e for e in evs if e["kind"] == "run_start"]
    assert starts[-1]["resumed_from_step"] == 40
    after = evs[evs.index(starts[-1]) :]
    assert [e["step"] for e in after if e["kind"] == "scalars" and e["phase"] == "train"] == [50]
