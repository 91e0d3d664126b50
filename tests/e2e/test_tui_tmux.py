"""End to end in a real terminal: start xax-tui in tmux, drive it with send-keys, read it with capture-pane."""

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "tests" / "fixtures" / "recorded_runs"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _alive(session: str) -> bool:
    return subprocess.run(["tmux", "has-session", "-t", session], capture_output=True, check=False).returncode == 0


def _wait_screen(session: str, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


def test_picker_open_run_help_quit():
    session = f"xaxtui-{uuid.uuid4().hex[:8]}"
    xax_tui = Path(sys.executable).parent / "xax-tui"
    command = f"TZ=UTC {xax_tui} {RUNS}" if xax_tui.exists() else f"TZ=UTC {sys.executable} -m xaxtui {RUNS}"
    _tmux("new", "-d", "-s", session, "-x", "100", "-y", "30", "-c", str(ROOT), command)
    try:
        started = time.monotonic()
        screen = _wait_screen(session, "2 runs, 0 live")
        print(f"picker painted after {time.monotonic() - started:.2f} s")
        assert "20261125-060000-a1b2" in screen and "finished" in screen
        _tmux("send-keys", "-t", session, "Down", "Enter")
        screen = _wait_screen(session, "step 300/300")
        assert "loss" in screen and "Stop" in screen
        _tmux("send-keys", "-t", session, "?")
        _wait_screen(session, "xax-tui keys")
        _tmux("send-keys", "-t", session, "Escape")
        _wait_screen(session, "Step/time")
        time.sleep(0.3)
        _tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while _alive(session) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
