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


def _wait_screen(session: str, *texts: str, timeout: float = 60.0) -> str:
    """Captures the pane until every one of ``texts`` is on it (panes paint one by one, so wait for all of them)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if all(text in screen for text in texts):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{texts!r} never all appeared; screen was:\n{screen}")


def test_picker_open_run_help_quit():
    session = f"xaxtui-{uuid.uuid4().hex[:8]}"
    xax_tui = Path(sys.executable).parent / "xax-tui"
    command = f"TZ=UTC {xax_tui} {RUNS}" if xax_tui.exists() else f"TZ=UTC {sys.executable} -m xaxtui {RUNS}"
    _tmux("new", "-d", "-s", session, "-x", "100", "-y", "30", "-c", str(ROOT), command)
    try:
        started = time.monotonic()
        _wait_screen(session, "2 runs, 0 live", "20261125-060000-a1b2", "finished")
        print(f"picker painted after {time.monotonic() - started:.2f} s")
        _tmux("send-keys", "-t", session, "Down", "Enter")
        _wait_screen(session, "step 300/300", "loss", "Stop", "info step 300")
        _tmux("send-keys", "-t", session, "?")
        _wait_screen(session, "Keys: Run view", "Run view (this screen)")
        _tmux("send-keys", "-t", session, "Escape")
        _wait_screen(session, "step 300/300", "Checkpoint")  # back on the run view (its footer, cut at any width)
        _tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 30
        while _alive(session) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
