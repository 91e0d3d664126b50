"""How the media pane draws images: each ``$XAX_TUI_GRAPHICS`` mode builds its textual-image renderable (or, for
sixels, widget) under Pilot; ``auto`` asks a real pseudo-terminal and picks what it answers; no other mode writes a
query; a bad value is one line.
"""

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.geometry import Region
from textual.widgets import Static
from textual_image import _terminal
from textual_image.renderable.halfcell import Image as HalfcellImage
from textual_image.renderable.tgp import Image as TGPImage
from textual_image.widget.sixel import Image as SixelWidget

from tests.xaxtui.conftest import wait_for
from tests.xaxtui.media_run import write_media_run
from xaxtui import graphics
from xaxtui.app import XaxTui
from xaxtui.screens.media import MediaScreen
from xaxtui.screens.run import RunScreen

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_graphics():
    """Puts the chosen backend and textual-image's probe cache back as they were."""
    chosen = dict(graphics._chosen)
    cached = getattr(_terminal.probe_terminal, "_result", None)
    yield
    graphics._chosen.update(chosen)
    if cached is None:
        if hasattr(_terminal.probe_terminal, "_result"):
            delattr(_terminal.probe_terminal, "_result")
    else:
        setattr(_terminal.probe_terminal, "_result", cached)  # noqa: B010


async def open_media(app: XaxTui, pilot) -> MediaScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, MediaScreen) and app.screen.shown is not None)
    screen = app.screen
    assert isinstance(screen, MediaScreen) and screen.shown == ("image", "samples", 300)
    return screen


def sent_ids(terminal: str) -> set[str]:
    """The ids of the kitty images transmitted (``a=T``-less transfers carry ``i=ID,m=``)."""
    return set(re.findall(r"\x1b_Gi=(\d+),m=", terminal))


def deleted_ids(terminal: str) -> set[str]:
    """The ids of the kitty images deleted (``a=d,I=ID``)."""
    return set(re.findall(r"\x1b_Ga=d,I=(\d+)", terminal))


@pytest.mark.parametrize(("mode", "renderable"), [("halfblock", HalfcellImage), ("kitty", TGPImage)])
async def test_halfblock_and_kitty_draw_their_renderable(
    tmp_path: Path, monkeypatch, restore_graphics, mode, renderable
):
    terminal = io.StringIO()  # textual-image writes kitty graphics straight to the real stdout
    monkeypatch.setattr(sys, "__stdout__", terminal)
    assert graphics.configure(mode) == mode
    app = XaxTui(write_media_run(tmp_path / "runs" / "diffusion" / "20261201-120000-me01"))
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_media(app, pilot)
        body = screen.query_one("#media-body", Static)
        assert type(body.content) is renderable
        console = Console(width=96, file=io.StringIO(), color_system=None)
        console.print(body.content)
        rows = console.file.getvalue().splitlines()
        cols = max(len(r) for r in rows) if mode == "halfblock" else max(r.count(chr(0x10EEEE)) for r in rows)
        assert (cols, len(rows)) == (96, 24)  # a 32x16 picture keeps its aspect in 1:2 cells (96 wide, 24 high)
        await pilot.pause(0.1)
        sent = terminal.getvalue()
        if mode == "kitty":  # the picture went to the terminal and a placement was made for it
            assert "\x1b_Gi=" in sent and "a=p" in sent and "U=1" in sent
            await pilot.press("down")  # a text sample: the image is deleted from the terminal
            await wait_for(pilot, lambda: screen.shown is not None and screen.shown[0] == "text")
            assert sent_ids(terminal.getvalue()) == deleted_ids(terminal.getvalue())
            await pilot.press("up", "escape")  # the image again, then back: deleted on leaving the pane
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            out = terminal.getvalue()
            assert len(sent_ids(out)) > len(sent_ids(sent)) and sent_ids(out) == deleted_ids(out)
        else:
            assert "\x1b_G" not in sent
        assert mode == "kitty" or not screen.query("#media-sixels")


async def test_sixel_mode_mounts_textual_images_sixel_widget(tmp_path: Path, restore_graphics):
    assert graphics.configure("sixel") == "sixel"
    app = XaxTui(write_media_run(tmp_path / "runs" / "diffusion" / "20261201-120000-me01"))
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_media(app, pilot)
        await wait_for(pilot, lambda: bool(screen.query("#media-sixels")))
        widget = screen.query_one("#media-sixels")
        assert type(widget) is SixelWidget and widget.image.size == (32, 16)
        await wait_for(pilot, lambda: widget.children and widget.children[0].size.width > 0)
        inner = widget.children[0]
        lines = inner.render_lines(Region(0, 0, inner.size.width, inner.size.height))
        assert any(seg.text.startswith("\x1bP") for seg in lines[-1])  # a DCS sixel sequence is drawn
        await pilot.press("down")  # a text sample: the sixel widget is hidden
        await wait_for(pilot, lambda: screen.shown is not None and screen.shown[0] == "text")
        assert not widget.display
        await pilot.press("up")  # the image again, in the same widget
        await wait_for(pilot, lambda: screen.shown is not None and screen.shown[0] == "image")
        assert widget.display and widget.image.size == (32, 16) and len(screen.query("#media-sixels")) == 1


def test_auto_picks_from_the_terminals_capabilities(monkeypatch, restore_graphics):
    cell = _terminal.CellSize(9, 18)
    for sixel, tgp, want in [(True, True, "sixel"), (False, True, "kitty"), (False, False, "halfblock")]:
        setattr(_terminal.probe_terminal, "_result", _terminal.TerminalCapabilities(cell, sixel, tgp))  # noqa: B010
        assert graphics.configure("auto") == want and graphics.backend() == want
    delattr(_terminal.probe_terminal, "_result")
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", terminal)
    assert graphics.configure("auto") == "halfblock" and terminal.getvalue() == ""  # no terminal: nothing asked


def _in_a_pty(code: str, answer: bytes | None) -> tuple[str, str]:
    """Runs ``code`` with a pseudo-terminal as stdin and stdout, answering a primary DA query with ``answer``.

    Returns:
        What the child wrote to the terminal before its result line, and that line.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 480, 800))  # 80x24 cells of 10x20 pixels
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while b"RESULT=" not in out or not out.endswith(b"\n"):
            if time.monotonic() > deadline:
                raise AssertionError(f"no result from the child: {out!r}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:  # the child is gone
                    break
            if answer is not None and not answered and b"\x1b[c" in out:
                os.write(master, answer)
                answered = True
    finally:
        child.wait(timeout=30)
        os.close(master)
    text = out.decode(errors="replace")
    before, _, result = text.partition("RESULT=")
    return before, result.strip()


def test_auto_probes_a_real_terminal_and_other_modes_write_nothing_to_it():
    code = "from xaxtui import graphics; print('RESULT=' + graphics.configure('{mode}'), flush=True)"
    before, result = _in_a_pty(code.format(mode="auto"), b"\x1b[?62;4;22c")  # a VT220 with sixels
    assert result == "sixel" and "\x1b[c" in before and "\x1b_G" in before
    before, result = _in_a_pty(code.format(mode="auto"), b"\x1b[?62;22c")  # no sixels, no kitty reply
    assert result == "halfblock"
    for mode in ("halfblock", "kitty", "sixel"):
        code_and_import = code.replace("print(", "graphics.image_class(); graphics.sixel_widget_class(); print(")
        before, result = _in_a_pty(code_and_import.format(mode=mode), None)
        assert result == mode and "\x1b" not in before, (mode, before)


def test_a_bad_graphics_value_is_one_line():
    env = {**os.environ, "XAX_TUI_GRAPHICS": "retina", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", "from xaxtui.app import main; main([])"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "xax-tui: error: $XAX_TUI_GRAPHICS must be one of halfblock, kitty, sixel, auto, not 'retina'"
    ]
