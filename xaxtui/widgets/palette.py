"""The charts' series colors, made readable on the background they are drawn on (dark or light theme alike).

Each run has one base color (:data:`PALETTE`, chosen by a hash of its id, so a run keeps its hue). What is drawn is
that color moved just far enough to reach a WCAG contrast with the chart's actual background: at least
:data:`TRAIN_CONTRAST` for a run's train curve and for a single run's phases, and exactly :data:`VALID_CONTRAST` for
the valid curve of a compared run, so that the two curves of one run differ in lightness on either theme (on a dark
background the valid curve is the darker one, on a light background the lighter one). Pure functions, no textual.
"""

import zlib
from functools import lru_cache

PALETTE = ("#4ea1ff", "#ff9f43", "#2ed573", "#ff6b81", "#a29bfe", "#feca57", "#48dbfb", "#ff9ff3")
PHASE_STYLES = {
    "train": PALETTE[0],
    "valid": PALETTE[1],
    "best": PALETTE[2],
    "trial": PALETTE[0],
}  # one run's phases; the sweep view's best and trial curves
TRAIN_CONTRAST = 6.0
VALID_CONTRAST = 3.4
SERIES_CONTRAST = 4.5  # a single run's phases and the sweep's trials: told apart by hue, all well readable

RGB = tuple[int, int, int]


def parse_hex(color: str) -> RGB:
    """``#rrggbb`` as an ``(r, g, b)`` triplet."""
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def to_hex(rgb: RGB) -> str:
    """An ``(r, g, b)`` triplet as ``#rrggbb``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def luminance(rgb: RGB) -> float:
    """The WCAG 2 relative luminance of an sRGB color."""
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: RGB, b: RGB) -> float:
    """The WCAG 2 contrast ratio of two colors (1 to 21)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


@lru_cache(maxsize=1024)
def at_contrast(color: str, background: RGB, target: float, exact: bool = False) -> str:
    """``color`` moved to ``target`` contrast with ``background``, keeping its hue.

    A color below the target is moved towards white on a dark background (towards black on a light one); with
    ``exact``, one above it is moved towards the background. Otherwise a color already past the target is kept.

    Args:
        color: ``#rrggbb``.
        background: The background's ``(r, g, b)``.
        target: The WCAG contrast ratio to reach.
        exact: Also lower the contrast of a color above ``target``.

    Returns:
        ``#rrggbb``; the farthest color on the way when the target cannot be reached.
    """
    rgb = parse_hex(color)
    now = contrast(rgb, background)
    if now >= target and not exact:
        return color
    away = (255, 255, 255) if luminance(background) < 0.18 else (0, 0, 0)
    pole = background if now >= target else away
    lo, hi = 0.0, 1.0  # bisect the mix factor: contrast changes monotonically along the way
    for _ in range(24):
        mid = (lo + hi) / 2
        reached = contrast(_mix(rgb, pole, mid), background) >= target
        if reached == (now < target):
            hi = mid
        else:
            lo = mid
    return to_hex(_mix(rgb, pole, hi if now < target else lo))


def run_slot(run_id: str) -> int:
    """The palette slot a run prefers (the same run id always prefers the same slot)."""
    return zlib.crc32(run_id.encode()) % len(PALETTE)


def run_color(run_id: str) -> str:
    """The base color a run prefers."""
    return PALETTE[run_slot(run_id)]


def run_colors(run_ids: list[str]) -> dict[str, str]:
    """Base colors for the runs of one comparison: each its preferred one unless an earlier run has it, then the next.

    Distinct for up to ``len(PALETTE)`` runs; a run keeps its color across redraws (the list order is the view's)
    and, when nothing collides, the color it has on its own.
    """
    taken: set[int] = set()
    out: dict[str, str] = {}
    for run_id in run_ids:
        slot = run_slot(run_id)
        for probe in range(len(PALETTE)):
            if (slot + probe) % len(PALETTE) not in taken:
                slot = (slot + probe) % len(PALETTE)
                break
        taken.add(slot)
        out[run_id] = PALETTE[slot]
    return out


def series_color(base: str, background: RGB, role: str) -> str:
    """The drawn color of a series of base color ``base`` on ``background``.

    Args:
        base: The run's (or phase's) base color, ``#rrggbb``.
        background: The chart's background ``(r, g, b)``.
        role: ``"train"`` (a compared run's train curve), ``"valid"`` (a compared run's other phases) or
            ``"series"`` (a single run's phase, a sweep trial, a marker).

    Returns:
        ``#rrggbb``.
    """
    if role == "valid":
        return at_contrast(base, background, VALID_CONTRAST, exact=True)
    return at_contrast(base, background, TRAIN_CONTRAST if role == "train" else SERIES_CONTRAST)
