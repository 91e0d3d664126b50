"""End to end in tmux at 120x40: a generated run with real PNGs opens in the run view, ``i`` shows its media.

It also proves the media pane sends no terminal probe: textual-image's probe answer, read by Textual as keys, used to
close the pane (an escape) or open the help (a ``?``).
"""

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_tui_tmux import ROOT, _tmux, _wait_screen
from tests.xaxtui.media_run import write_media_run

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


@pytest.mark.parametrize("graphics", ["", "auto"])
def test_run_with_images_shows_the_media_pane(tmp_path: Path, graphics: str):
    """Default half-blocks; ``auto`` asks tmux before the app starts, and its answer never reaches the app as keys."""
    run_dir = write_media_run(tmp_path / "runs" / "diffusion" / "20261201-120000-me01")
    session = f"xaxtui-{uuid.uuid4().hex[:8]}"
    xax_tui = Path(sys.executable).parent / "xax-tui"
    env = f"TZ=UTC XAX_TUI_GRAPHICS={graphics}"
    command = f"{env} {xax_tui} {run_dir}" if xax_tui.exists() else f"{env} {sys.executable} -m xaxtui {run_dir}"
    _tmux("new", "-d", "-s", session, "-x", "120", "-y", "40", "-c", str(ROOT), command)
    try:
        _wait_screen(session, "step 300/300", "info status finished")
        _tmux("send-keys", "-t", session, "i")
        screen = _wait_screen(session, "samples", "step 300", "3/3", "Next step")
        if graphics == "" or "half-blocks" in screen:  # what tmux said it supports, as the title says
            assert "half-blocks" in screen and ("▀" in screen or "▄" in screen), screen  # the PNG as half-blocks
        _tmux("send-keys", "-t", session, "Left")
        _wait_screen(session, "step 200", "2/3")
        _tmux("send-keys", "-t", session, "Down")
        _wait_screen(session, "shakespeare", "sample at step 300")
        _tmux("send-keys", "-t", session, "Down")
        _wait_screen(session, "grads", "8 bins")
        _tmux("send-keys", "-t", session, "Down")
        _wait_screen(session, "missing artifact: artifacts/lost.png")
        _tmux("send-keys", "-t", session, "Down")
        _wait_screen(session, "unreadable artifact", "artifacts/corrupt.png")
        _tmux("send-keys", "-t", session, "Escape")
        _wait_screen(session, "step 300/300", "Checkpoint")  # back on the run view (its footer, cut at any width)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
