"""Shared fixtures of the TUI tests: recorded runs, a fake engine, a fixed clock zone."""

import shutil
import sys
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUNS = FIXTURES / "recorded_runs"
RUN_A = RUNS / "mnist" / "20261125-060000-a1b2"
RUN_B = RUNS / "mnist" / "20261125-070000-c3d4"
TASK = FIXTURES / "tasks" / "tiny.toml"
FAKE_ENGINE = FIXTURES / "fake_engine.py"
SWEEP_RUNS = FIXTURES / "recorded_sweep"  # a real 6-trial sweep's folder and trial runs, paths as on /shared/runs
SWEEP_DIR = SWEEP_RUNS / "sweeps" / "digits-20261201-125258-3929"


@pytest.fixture(autouse=True)
def _utc_and_fake_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setenv("XAX_ENGINE_CMD", f"{sys.executable} {FAKE_ENGINE}")
    monkeypatch.setenv("FAKE_STEP_S", "0.01")


@pytest.fixture
def runs_copy(tmp_path: Path) -> Path:
    """A writable copy of the recorded runs."""
    shutil.copytree(RUNS, tmp_path / "runs")
    return tmp_path / "runs"


@pytest.fixture
def task_copy(tmp_path: Path) -> Path:
    """A writable copy of the tiny task file."""
    path = tmp_path / "tiny.toml"
    shutil.copy(TASK, path)
    return path


async def wait_for(pilot, predicate, timeout: float = 30.0) -> None:
    """Pauses the pilot until ``predicate()`` holds (the deadline is generous: the test machine may be loaded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)
