"""How the media pane draws images: unicode half-blocks (textual-image's ``HalfcellImage`` renderable).

Half-blocks work in every terminal, in tmux and under Pilot. textual-image's kitty/sixel widgets need a terminal query
before Textual takes the terminal over; they are not wired in yet.
"""

from typing import Any


def image_class() -> Any:
    """The rich renderable class that draws an image as unicode half-blocks."""
    from textual_image.renderable.halfcell import Image

    return Image
