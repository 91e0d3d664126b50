"""What the media pane shows, folded from ``image``, ``video``, ``text`` and ``histogram`` events (no textual, no jax).

The fold keeps references only: an image's path relative to the run dir, never its pixels (the pane loads the one
image on screen). Each name keeps about :data:`MAX_STEPS` steps (the newest); a resume drops the steps after its
checkpoint, as it does for metric series.
"""

import math
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any

from xaxengine.protocol import Event

MEDIA_KINDS = ("image", "video", "text", "histogram")
MAX_STEPS = 512  # steps kept per name
MAX_TEXT = 20_000  # characters kept of one text sample
MAX_BINS = 4096  # histogram counts kept of one event


@dataclass(frozen=True)
class MediaItem:
    """One logged record at one step.

    Attributes:
        kind: ``image``, ``video``, ``text`` or ``histogram``.
        name: The name it was logged under.
        step: Its step.
        path: The artifact path relative to the run dir (images and videos; empty otherwise).
        text: The sample (text events; empty otherwise).
        bins: Bin edges (histograms).
        counts: Counts per bin (histograms).
        width: Pixel width the engine reported (0 when unknown).
        height: Pixel height the engine reported (0 when unknown).
        frames: Frames of a video (0 otherwise).
        fps: A video's frame rate (0 when unknown or not a video).
    """

    kind: str
    name: str
    step: int
    path: str = ""
    text: str = ""
    bins: tuple[float, ...] = ()
    counts: tuple[float, ...] = ()
    width: int = 0
    height: int = 0
    frames: int = 0
    fps: float = 0.0


@dataclass
class MediaTrack:
    """The steps of one ``(kind, name)``, oldest first, and the item at each."""

    steps: list[int] = field(default_factory=list)
    items: dict[int, MediaItem] = field(default_factory=dict)

    def add(self, item: MediaItem) -> None:
        """Adds or replaces the item at its step; beyond :data:`MAX_STEPS` (plus an eighth) forgets the oldest."""
        if item.step not in self.items:
            insort(self.steps, item.step)
        self.items[item.step] = item
        if len(self.steps) > MAX_STEPS + MAX_STEPS // 8:  # forget in batches: no O(n) pop per event
            cut = len(self.steps) - MAX_STEPS
            for s in self.steps[:cut]:
                del self.items[s]
            del self.steps[:cut]

    def truncate(self, step: int) -> None:
        """Drops the steps at ``step`` or later."""
        cut = bisect_left(self.steps, step)
        for s in self.steps[cut:]:
            del self.items[s]
        del self.steps[cut:]


def _numbers(value: Any, limit: int) -> tuple[float, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(float(v) if isinstance(v, int | float) else float("nan") for v in value[:limit])


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and math.isfinite(value) and abs(value) < 2**62 else 0


def item_of(ev: Event) -> MediaItem | None:
    """The media item of an event, or None when its fields are unusable (no name, no step, no path)."""
    kind, name, step = ev.get("kind"), ev.get("name"), ev.get("step")
    if kind not in MEDIA_KINDS or not isinstance(name, str) or not isinstance(step, int):
        return None
    if kind in ("image", "video"):
        path = ev.get("path")
        if not isinstance(path, str) or not path:
            return None
        width, height, frames = _int(ev.get("width")), _int(ev.get("height")), _int(ev.get("frames"))
        fps = ev.get("fps")
        rate = float(fps) if isinstance(fps, int | float) and math.isfinite(fps) and fps > 0 else 0.0
        return MediaItem(str(kind), name, step, path=path, width=width, height=height, frames=frames, fps=rate)
    if kind == "text":
        text = ev.get("text")
        return MediaItem("text", name, step, text=str(text if text is not None else "")[:MAX_TEXT])
    counts = _numbers(ev.get("counts"), MAX_BINS)
    return MediaItem("histogram", name, step, bins=_numbers(ev.get("bins"), MAX_BINS + 1), counts=counts)


@dataclass
class MediaIndex:
    """Every media track of a run, keyed by ``(kind, name)`` in first-seen order.

    Attributes:
        tracks: The tracks.
        events: Media events folded (``version`` for views: it changes when anything was added).
        skipped: Media events whose fields were unusable.
    """

    tracks: dict[tuple[str, str], MediaTrack] = field(default_factory=dict)
    events: int = 0
    skipped: int = 0

    def add(self, ev: Event) -> None:
        """Folds one media event."""
        self.events += 1
        item = item_of(ev)
        if item is None:
            self.skipped += 1
            return
        track = self.tracks.get((item.kind, item.name))
        if track is None:
            track = self.tracks[item.kind, item.name] = MediaTrack()
        track.add(item)

    def truncate(self, step: int) -> None:
        """Drops every track's steps at ``step`` or later (a resume logs them again)."""
        for track in self.tracks.values():
            track.truncate(step)
        self.events += 1

    def keys(self) -> list[tuple[str, str]]:
        """``(kind, name)`` of the tracks that hold at least one step."""
        return [key for key, track in self.tracks.items() if track.steps]
