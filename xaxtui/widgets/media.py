"""Renderables of the media pane: one image (textual-image), a text sample, a histogram as a small bar chart.

Images load here, one at a time, when shown (the fold keeps paths only). A missing or corrupt file becomes one line
saying so. Images draw as unicode half-blocks or kitty graphics here, as sixels in the screen's own widget
(:mod:`xaxtui.graphics` chooses).
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from xaxtui.graphics import image_class
from xaxtui.media import MediaItem

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

BAR_BLOCKS = " ▁▂▃▄▅▆▇█"


def _compact(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}"


def open_image(run_dir: Path, item: MediaItem) -> "PILImage | Text":
    """The RGB picture of ``item`` (a video's first frame), or one line saying why it cannot show."""
    from PIL import Image, UnidentifiedImageError

    path = run_dir / item.path
    try:
        with Image.open(path) as opened:
            opened.seek(0)  # a GIF (video) shows its first frame
            picture = opened.convert("RGB")
    except FileNotFoundError:
        return Text(f"missing artifact: {item.path}", style="yellow", no_wrap=True, overflow="ellipsis")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        reason = type(error).__name__
        return Text(f"unreadable artifact ({reason}): {item.path}", style="yellow", no_wrap=True, overflow="ellipsis")
    if picture.width <= 0 or picture.height <= 0:
        return Text(f"empty image: {item.path}", style="yellow")
    return picture


def fit_cells(picture: "PILImage", width: int, height: int) -> int:
    """The width in cells that fits ``picture`` into ``width`` x ``height`` cells (a cell is about twice as tall)."""
    return max(1, min(width, round(2 * height * picture.width / picture.height)))


def image_renderable(run_dir: Path, item: MediaItem, width: int, height: int) -> RenderableType:
    """The image of ``item`` scaled into ``width`` x ``height`` cells (half-blocks or kitty graphics), or why not."""
    picture = open_image(run_dir, item)
    if isinstance(picture, Text):
        return picture
    # height "auto": textual-image keeps the aspect (with None it takes the picture's own pixel height in cells)
    return image_class()(picture, width=fit_cells(picture, width, height), height="auto")


def text_renderable(item: MediaItem) -> Text:
    """A text sample as it was logged."""
    return Text(item.text or "(empty sample)")


def histogram_text(item: MediaItem, width: int, height: int) -> Text:
    """A histogram as a bar chart of ``height`` rows (counts regrouped to fit ``width`` columns) plus its range."""
    counts = [c if math.isfinite(c) and c > 0 else 0.0 for c in item.counts]
    if not counts:
        return Text("empty histogram", style="dim")
    width = max(1, width)
    group = math.ceil(len(counts) / width)
    cols = [sum(counts[i : i + group]) for i in range(0, len(counts), group)]
    top = max(cols)
    rows = max(1, height - 1)
    out = Text(no_wrap=True)
    for row in range(rows, 0, -1):
        line = []
        for c in cols:
            fill = (c / top * rows if top else 0.0) - (row - 1)
            line.append(BAR_BLOCKS[max(0, min(8, round(fill * 8)))])
        out.append("".join(line) + "\n", style="cyan")
    lo = item.bins[0] if item.bins else math.nan
    hi = item.bins[-1] if item.bins else math.nan
    total = sum(counts)
    out.append(f"{_compact(lo)} … {_compact(hi)} · {len(counts)} bins · {total:,.0f} values · peak {max(counts):,.0f}")
    return out


def slider_text(steps: list[int], index: int, width: int) -> Text:
    """``step 300  ━━━━━●━━━━  3/5``: where the shown step lies among the logged ones."""
    n = len(steps)
    label = f"step {steps[index]}  "
    tail = f"  {index + 1}/{n}"
    room = max(3, width - len(label) - len(tail))
    pos = 0 if n <= 1 else round(index * (room - 1) / (n - 1))
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(label, style="bold")
    out.append("━" * pos, style="cyan")
    out.append("●", style="bold yellow")
    out.append("━" * (room - pos - 1), style="dim")
    out.append(tail)
    return out
