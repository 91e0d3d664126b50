"""Shared test setup: offline Hugging Face, CPU JAX, and helpers to run the real CLI in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")


def engine_env(**extra: str) -> dict[str, str]:
    """Environment for engine subprocesses: offline data, CPU, unbuffered output."""
    env = dict(os.environ)
    env.update({"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_engine(*args: str, cwd: Path = REPO, timeout: float = 240, **popen: object) -> subprocess.CompletedProcess[str]:
    """Runs ``xaxengine ARGS`` to completion and returns the finished process (output captured as text)."""
    return subprocess.run(
        [str(BIN / "xaxengine"), *args],
        cwd=cwd,
        env=engine_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **popen,  # ty: ignore[invalid-argument-type]
    )


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A fresh runs root."""
    path = tmp_path / "runs"
    path.mkdir()
    return path


SLURM_RECORDINGS = REPO / "tests" / "fixtures" / "slurm"
FAKE_SCONTROL = """#!/bin/sh
# `scontrol show job --oneliner [ID]` answered from a recorded queue; each call is logged.
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
[ -n "$4" ] || { cat "$dir/queue"; exit 0; }
grep -E "^JobId=$4 |ArrayJobId=$4 " "$dir/queue" && exit 0
echo "slurm_load_jobs error: Invalid job id specified" >&2
exit 1
"""


class FakeSlurm:
    """A fake ``scontrol`` first on PATH that answers from a recording of a real one (``tests/fixtures/slurm``)."""

    def __init__(self, bin_dir: Path) -> None:
        bin_dir.mkdir(parents=True, exist_ok=True)
        (bin_dir / "scontrol").write_text(FAKE_SCONTROL)
        (bin_dir / "scontrol").chmod(0o755)
        self.bin_dir = bin_dir

    def answer(self, recording: str) -> None:
        """Answers from ``tests/fixtures/slurm/RECORDING.txt`` from now on."""
        (self.bin_dir / "queue").write_text((SLURM_RECORDINGS / f"{recording}.txt").read_text())

    def calls(self) -> list[str]:
        """The argument lines of every call so far."""
        path = self.bin_dir / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSlurm:
    """A fake ``scontrol`` on PATH (in this process and the engine subprocesses it starts)."""
    slurm = FakeSlurm(tmp_path / "slurm-bin")
    monkeypatch.setenv("PATH", f"{slurm.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return slurm


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Prints the import times that ``tests/test_import_hygiene.py`` recorded (reported, never gated on)."""
    rows = [
        value
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == "import_s"
    ]
    if rows:
        terminalreporter.section("import times (reported, not gated on)")
        for row in sorted(rows, key=lambda r: r["what"]):
            terminalreporter.write_line(f"{row['seconds']:7.3f} s  {row['what']}")
