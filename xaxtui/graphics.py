"""How the media pane draws images: unicode half-blocks, kitty graphics (TGP) or sixel, chosen by ``$XAX_TUI_GRAPHICS``.

``halfblock`` (the default) works in every terminal, in tmux and under Pilot. ``kitty`` draws with the Terminal
Graphics Protocol (kitty; in tmux with ``allow-passthrough on``), ``sixel`` with sixels (foot, WezTerm, xterm
``-ti vt340``, mlterm, Konsole). ``auto`` asks the terminal what it supports and picks sixel, then kitty, then
half-blocks.

Asking is a terminal probe: textual-image writes queries and reads the answers from stdin. Once Textual owns the
terminal those answers arrive as key presses (a stray ``?`` opened the help in tmux), so the probe runs only for
``auto``, only in :func:`configure`, which ``xax-tui`` calls before the app starts. Every other mode, and every
import of textual-image here, first fills textual-image's probe cache with what is known without asking (the cell
size from the tty's ioctl, or textual-image's default): no query is ever written.
"""

import os
import sys
from collections.abc import Mapping
from typing import Any

ENV = "XAX_TUI_GRAPHICS"
MODES = ("halfblock", "kitty", "sixel", "auto")
CELL_PIXELS = (10, 20)  # textual-image's own default cell size (a VT340's), used when the tty does not say

_chosen = {"backend": "halfblock"}  # set once by configure(), before the app starts


class GraphicsError(ValueError):
    """A ``$XAX_TUI_GRAPHICS`` value that is not a mode."""


def mode_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The mode ``$XAX_TUI_GRAPHICS`` asks for (``halfblock`` when unset or empty).

    Raises:
        GraphicsError: The value is none of :data:`MODES` (the message is one line).
    """
    value = environ.get(ENV, "").strip().lower() or "halfblock"
    if value not in MODES:
        raise GraphicsError(f"${ENV} must be one of {', '.join(MODES)}, not {environ[ENV]!r}")
    return value


def _fill_probe_cache(probe: bool) -> Any:
    """textual-image's terminal capabilities: probed (``probe`` and a terminal on both ends) or filled in unasked."""
    from textual_image import _terminal

    cached = getattr(_terminal.probe_terminal, "_result", None)
    if cached is not None:
        return cached
    tty = bool(sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__ and sys.__stdin__.isatty())
    if probe and tty:
        try:
            return _terminal.probe_terminal()
        except (_terminal.TerminalError, OSError, ZeroDivisionError):  # textual-image divides by a 0-column window
            pass
    width, height = CELL_PIXELS
    if tty:
        try:  # the window's pixel size over its cells: an ioctl, nothing written to the terminal
            rows, columns, pixels_w, pixels_h = _terminal.get_tiocgwinsz()
            if rows and columns and pixels_w and pixels_h:
                width, height = pixels_w // columns, pixels_h // rows
        except OSError:
            pass
    caps = _terminal.TerminalCapabilities(_terminal.CellSize(width, height), sixel=False, tgp=False)
    setattr(_terminal.probe_terminal, "_result", caps)  # noqa: B010 - textual-image caches its probe in this attribute
    return caps


def configure(mode: str) -> str:
    """Chooses how images draw from now on; ``auto`` probes the terminal (call it before the app starts).

    Args:
        mode: One of :data:`MODES`.

    Returns:
        The backend in use: ``halfblock``, ``kitty`` or ``sixel``.
    """
    if mode not in MODES:
        raise GraphicsError(f"graphics mode must be one of {', '.join(MODES)}, not {mode!r}")
    caps = _fill_probe_cache(probe=mode == "auto")
    if mode == "auto":  # sixel first, as textual-image does: some terminals claim TGP but draw only sixels
        mode = "sixel" if caps.sixel else "kitty" if caps.tgp else "halfblock"
    _chosen["backend"] = mode
    return mode


def backend() -> str:
    """The backend images draw with: ``halfblock``, ``kitty`` or ``sixel``."""
    return _chosen["backend"]


def image_class() -> Any:
    """The rich renderable class that draws an image with the backend (half-blocks or TGP; sixel: see below).

    Sixels cannot travel as a rich renderable through Textual; for ``sixel`` the pane mounts :func:`sixel_widget_class`
    and this returns the half-block class (for anything drawn outside that widget).
    """
    _fill_probe_cache(probe=False)
    if _chosen["backend"] == "kitty":
        from textual_image.renderable.tgp import Image as TGPImage

        return TGPImage
    from textual_image.renderable.halfcell import Image as HalfcellImage

    return HalfcellImage


def sixel_widget_class() -> Any:
    """textual-image's Textual widget that draws an image as sixels."""
    _fill_probe_cache(probe=False)
    from textual_image.widget.sixel import Image as SixelImage

    return SixelImage


def release(renderable: object) -> None:
    """Frees what a drawn image holds in the terminal (a TGP image's pixels); nothing for other renderables."""
    if _chosen["backend"] == "kitty":
        from textual_image.renderable.tgp import Image as TGPImage

        if isinstance(renderable, TGPImage):
            renderable.cleanup()
