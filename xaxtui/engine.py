"""The ``xaxengine`` command line as the TUI uses it (``$XAX_ENGINE_CMD`` overrides the command, e.g. for tests)."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson


class EngineError(RuntimeError):
    """A CLI call failed; the message is the engine's one-line stderr."""


def engine_cmd() -> list[str]:
    """The engine command prefix.

    In order: ``$XAX_ENGINE_CMD`` (a command line), ``$XAX_ENGINE`` (one executable), the ``xaxengine`` next to the
    running Python (the venv's, whether or not the venv is activated), then ``xaxengine`` on ``PATH``.
    """
    if command := os.environ.get("XAX_ENGINE_CMD"):
        return shlex.split(command)
    if executable := os.environ.get("XAX_ENGINE"):
        return [executable]
    beside = Path(sys.executable).parent / "xaxengine"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    return [shutil.which("xaxengine") or "xaxengine"]


def run_argv(task: str | Path, overrides: list[str], runs_dir: str | Path | None) -> list[str]:
    """``xaxengine run TASK overrides --runs-dir D --events -`` (the layout travels in the overrides)."""
    argv = [*engine_cmd(), "run", str(task), *overrides]
    if runs_dir:
        argv += ["--runs-dir", str(runs_dir)]
    return [*argv, "--events", "-"]


def resume_argv(run_dir: str | Path) -> list[str]:
    """``xaxengine resume RUN_DIR --events -``."""
    return [*engine_cmd(), "resume", str(run_dir), "--events", "-"]


def call(*args: str, timeout: float = 30.0) -> str:
    """Runs one engine subcommand and returns its stdout.

    Raises:
        EngineError: When it exits non-zero (the message is its last stderr line) or cannot start.
    """
    try:
        done = subprocess.run([*engine_cmd(), *args], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EngineError(f"xaxengine {args[0]}: {error}") from error
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise EngineError(lines[-1] if lines else f"xaxengine {args[0]} exited {done.returncode}")
    return done.stdout


def schema(task: str | Path) -> dict[str, Any]:
    """``xaxengine schema TASK.toml`` as a dict ``{"task": str, "fields": [...]}``."""
    return orjson.loads(call("schema", str(task), timeout=60.0))
