"""The task API's shape: abstract hooks refused up front, config_class inferred, engine names guarded, user hooks
on a cadence, and the lazy public namespace."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, run_engine
from xaxengine.task.mixins.hooks import Hook, HookRegistry

MISSING_LOSS = """
from dataclasses import dataclass

import xaxengine as xax
from tasks.mnist import MnistTask


class NoLossTask(xax.SupervisedTask[xax.SupervisedConfig]):
    get_model = MnistTask.get_model
    get_dataset = MnistTask.get_dataset
    get_output = MnistTask.get_output
"""


def test_a_task_without_compute_loss_exits_2_before_making_a_run_dir(tmp_path: Path, runs_dir: Path) -> None:
    (tmp_path / "noloss.py").write_text(MISSING_LOSS)
    toml = tmp_path / "noloss.toml"
    toml.write_text('task = "noloss:NoLossTask"\n')
    proc = run_engine("run", str(toml), "--runs-dir", str(runs_dir))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "NoLossTask does not implement compute_loss(model, batch, output, state, key)" in lines[0]
    assert lines[0].startswith(f"xaxengine: error: {toml}:1: ")
    assert list(runs_dir.iterdir()) == []


def test_python_launch_of_an_incomplete_task_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "noloss.py").write_text(MISSING_LOSS)
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(REPO)!r}]
        import xaxengine as xax
        from noloss import NoLossTask
        try:
            NoLossTask.launch(xax.SupervisedConfig())
        except xax.ConfigError as error:
            print("refused:", error)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "refused: task 'NoLossTask': NoLossTask does not implement compute_loss(" in out.stdout, out.stderr


def test_config_class_is_inferred_from_the_generic_parameter(runs_dir: Path, tmp_path: Path) -> None:
    from tests.fixtures.tasks.shape_tasks import InferredConfig, InferredTask

    assert InferredTask.config_class is InferredConfig
    toml = tmp_path / "inferred.toml"
    toml.write_text('task = "tests.fixtures.tasks.shape_tasks:InferredTask"\nmarker = "from-toml"\n')
    proc = run_engine(
        "run", str(toml), "train.max_steps=3", "train.valid_every_n_steps=0", "--runs-dir", str(runs_dir),
        "--run-id", "inferred", "logger.tensorboard=false", "stats.enabled=false",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = (runs_dir / "inferred" / "inferred" / "config.toml").read_text()
    assert 'marker = "from-toml"' in config


def test_a_task_attribute_that_shadows_an_engine_name_is_refused() -> None:
    code = textwrap.dedent("""
        import xaxengine as xax
        class Bad(xax.SupervisedTask[xax.SupervisedConfig]):
            run_dir = "mine"
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1
    assert "Bad.run_dir shadows the engine's ArtifactsMixin.run_dir; rename it" in out.stderr.splitlines()[-1]


def test_overriding_a_user_hook_is_allowed() -> None:
    from tests.fixtures.tasks.shape_tasks import HookedTask

    assert HookedTask.get_hooks is not None


def test_a_user_hook_every_n_steps_runs_max_steps_over_n_times(runs_dir: Path, tmp_path: Path) -> None:
    toml = tmp_path / "hooked.toml"
    toml.write_text('task = "tests.fixtures.tasks.shape_tasks:HookedTask"\nhook_every = 7\n')
    proc = run_engine(
        "run", str(toml), "train.max_steps=50", "train.log_every_n_steps=10", "train.valid_every_n_steps=25",
        "--runs-dir", str(runs_dir), "--run-id", "hooked", "logger.tensorboard=false", "stats.enabled=false",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    calls = [json.loads(line) for line in (runs_dir / "hooked/hooked/artifacts/hook_calls.jsonl").open()]
    assert [c["step"] for c in calls] == [7, 14, 21, 28, 35, 42, 49]  # 50 // 7 == 7 calls, none extra at the end
    assert all(c["model"] for c in calls)
    assert "train/loss" in calls[1]["metrics"] and "valid/loss" in calls[-1]["metrics"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hook_by_seconds_runs_on_time_with_an_injected_clock() -> None:
    clock = FakeClock()
    registry = HookRegistry(clock=clock)
    timed = registry.add(Hook(lambda *_: None, every_n_seconds=10.0))
    registry.start(step=0)
    fired = []
    for step in range(1, 101):
        clock.now += 1.5  # 1.5 s per step: due after steps 7, 14, 21, ... (every 10.5 s of clock, >= 10 s apart)
        if timed in registry.due(step, last=False):
            fired.append(step)
            registry.ran(timed)
    assert fired == list(range(7, 101, 7))


def test_hook_cadences_combine_and_at_end_fires_on_the_last_step() -> None:
    registry = HookRegistry(clock=FakeClock())
    every3 = registry.add(Hook(lambda *_: None, every_n_steps=3, at_end=True))
    window = registry.add(Hook(lambda *_: None, at_steps=(4, 6)))
    registry.start(step=0)
    seen = {step: registry.due(step, last=step == 10) for step in range(1, 11)}
    assert [s for s, due in seen.items() if every3 in due] == [3, 6, 9, 10]
    assert [s for s, due in seen.items() if window in due] == [4, 6]


@pytest.mark.parametrize("bad", [{"every_n_steps": -1}, {"every_n_seconds": -2.0}, {"every_n_seconds": float("inf")}])
def test_a_bad_cadence_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match="must be >= 0 and finite"):
        Hook(lambda *_: None, **bad)


def test_the_public_namespace_is_lazy_and_complete() -> None:
    code = (
        "import sys, xaxengine as xax; assert 'jax' not in sys.modules, 'import xaxengine imported jax'; "
        "xax.field; xax.Config; assert 'jax' not in sys.modules, 'field/Config imported jax'; "
        "print(xax.SupervisedTask.__name__, xax.StepState.__name__, xax.InitParams.__name__, xax.launch.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["SupervisedTask", "StepState", "InitParams", "launch"]
