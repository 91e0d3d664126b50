"""How the media pane draws images: unicode half-blocks (textual-image's ``HalfcellImage`` renderable).

Importing ``textual_image.renderable`` probes the terminal (it writes queries and reads the answers from stdin). Once
Textual owns the terminal that answer arrives as key presses (a stray ``?`` opened the help in tmux), so before the
first import :func:`image_class` fills textual-image's probe cache with plain capabilities: no probe is sent, images
draw as half-blocks, which work in every terminal, in tmux and under Pilot. Kitty/sixel graphics would need that probe
before the app starts; they are not wired in.
"""

from typing import Any

CELL_PIXELS = (10, 20)  # textual-image's own default cell size (a VT340's), used only for its size arithmetic


def image_class() -> Any:
    """The rich renderable class that draws an image as unicode half-blocks (imported without a terminal probe)."""
    from textual_image import _terminal

    probe = _terminal.probe_terminal
    if not hasattr(probe, "_result"):
        caps = _terminal.TerminalCapabilities(_terminal.CellSize(*CELL_PIXELS), sixel=False, tgp=False)
        setattr(probe, "_result", caps)  # noqa: B010 - textual-image caches its probe in this attribute
    from textual_image.renderable.halfcell import Image

    return Image
