"""The media screen of one run: logged images (and a video's first frame), text samples and histograms.

Opened from the run view (``i``). One record shows at a time: up/down picks the name (all kinds, first-seen
order), left/right pages through its steps on a slider, home/end jump to the first/last step. It follows the newest
step of a name while it is on the newest one. It redraws on :class:`~xaxtui.messages.RunUpdated` when the run's
media changed; the image file is read only when shown.
"""

from pathlib import Path

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Static

from xaxtui import graphics
from xaxtui.keys import bindings
from xaxtui.media import MediaItem, MediaTrack
from xaxtui.messages import RunUpdated
from xaxtui.screens.base import ScopedScreen
from xaxtui.session import RunSession
from xaxtui.widgets.lifecycle import leaving
from xaxtui.widgets.media import fit_cells, histogram_text, image_renderable, open_image, slider_text, text_renderable

DRAWN_AS = {"halfblock": "half-blocks", "kitty": "kitty graphics", "sixel": "sixels"}  # $XAX_TUI_GRAPHICS
MAX_FPS = 10.0  # redraws a second a playing video may cost
KIND_LABELS = {"image": "image", "video": "video", "text": "text", "histogram": "histogram"}
EMPTY = "no images, videos, text samples or histograms logged yet (log_image, log_text, log_histogram in log_heavy)"


class MediaScreen(ScopedScreen):
    """Media of ``session``'s run, one record at a time."""

    KEY_SCOPE = "media"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, session: RunSession) -> None:
        """Creates the screen for ``session``."""
        super().__init__()
        self.session = session
        self.key_index = 0
        self.steps: dict[tuple[str, str], int] = {}  # the shown step per track; absent: follow the newest
        self.shown: tuple[str, str, int] | None = None  # (kind, name, step) on screen, for tests and tools
        self._drawn_for: tuple[object, ...] = ()
        self.frame = 0  # the video frame shown
        self.playing = True  # a video plays (space pauses it)
        self._player: Timer | None = None

    def compose(self) -> ComposeResult:
        """Title, slider, the record."""
        yield Static(id="media-title")
        yield Static(id="media-slider")
        with VerticalScroll(id="media-scroll", can_focus=False):
            yield Static(id="media-body")
        yield Footer()

    def on_mount(self) -> None:
        """Draws once; later draws follow :class:`RunUpdated`."""
        if leaving(self):
            return  # popped before its Mount was handled: the children are gone
        self.query_one("#media-scroll").border_title = "media"
        self.redraw()

    def on_screen_suspend(self) -> None:
        """Frees the shown image's pixels in the terminal (kitty graphics; sent again if the pane comes back)."""
        self._play(None)
        for body in self.query("#media-body").results(Static):
            graphics.release(body.content)

    def on_screen_resume(self) -> None:
        """A video shown before plays again."""
        self._drawn_for = ()
        self.redraw()

    def _play(self, item: MediaItem | None) -> None:
        """Runs the frame timer while a video shows and plays (at its own rate, at most 10 frames a second)."""
        wanted = item is not None and item.kind == "video" and self.playing and (item.frames or 0) > 1
        if not wanted and self._player is not None:
            self._player.stop()
            self._player = None
        if wanted and self._player is None and item is not None:
            self._player = self.set_interval(1.0 / min(max(item.fps or 1.0, 0.5), MAX_FPS), self._next_frame)

    def _next_frame(self) -> None:
        self.frame += 1
        self.redraw()

    def action_toggle_play(self) -> None:
        """Pauses or plays the video shown."""
        self.playing = not self.playing
        self._drawn_for = ()
        self.redraw()

    def on_resize(self) -> None:
        """Images and bars fit the new size."""
        self._drawn_for = ()
        self.redraw()

    @on(RunUpdated)
    def _run_updated(self, message: RunUpdated) -> None:
        if message.session is self.session:
            self.redraw()

    def _current(self) -> tuple[tuple[str, str], MediaTrack, int] | None:
        media = self.session.state.media
        keys = media.keys()
        if not keys:
            return None
        self.key_index = min(self.key_index, len(keys) - 1)
        key = keys[self.key_index]
        track = media.tracks[key]
        step = self.steps.get(key)
        index = len(track.steps) - 1 if step is None else _nearest(track.steps, step)
        return key, track, index

    def redraw(self) -> None:
        """Draws the chosen record (skipped when neither it nor the size changed, or the screen is being left)."""
        if leaving(self):
            return
        current = self._current()
        media = self.session.state.media
        token = (media.events, self.key_index, tuple(sorted(self.steps.items())), self.size, self.frame)
        if token == self._drawn_for:
            return
        self._drawn_for = token
        title, slider = self.query_one("#media-title", Static), self.query_one("#media-slider", Static)
        body_widget = self.query_one("#media-body", Static)
        graphics.release(body_widget.content)  # a kitty image's pixels leave the terminal with it
        self._show_sixels(None)
        if current is None:
            self._play(None)
            title.update(Text("media", style="bold"))
            slider.update("")
            body_widget.update(Text(EMPTY, style="dim"))
            self.shown = None
            return
        (kind, name), track, index = current
        keys = media.keys()
        item = track.items[track.steps[index]]
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(f"{KIND_LABELS.get(kind, kind)} ", style="dim")
        head.append(name, style="bold")
        head.append(f"  ({self.key_index + 1}/{len(keys)} names: ↑/↓ · steps: ←/→)", style="dim")
        if kind in ("image", "video"):
            head.append(f" · {DRAWN_AS[graphics.backend()]}", style="dim")
        title.update(head)
        slider.update(slider_text(track.steps, index, max(20, self.size.width - 2)))
        if self.shown != (kind, name, item.step):
            self.frame = 0  # another record: its video starts at its first frame
        body_widget.update(self._body(item))
        self.shown = (kind, name, item.step)
        self._play(item)

    def _body(self, item: MediaItem) -> RenderableType:
        width = max(10, self.size.width - 4)
        height = max(3, self.size.height - 7)
        if item.kind in ("image", "video"):
            return self._image_body(item, width, height)
        if item.kind == "histogram":
            return histogram_text(item, width, height)
        return text_renderable(item)

    def _image_body(self, item: MediaItem, width: int, height: int) -> RenderableType:
        run_dir = self.session.run_dir
        if run_dir is None:
            return Text(f"run dir unknown: {item.path}", style="yellow")
        if self.session.remote is not None:
            return Text(f"artifact on the remote host: {run_dir / item.path}", style="yellow")
        frames = item.frames or 1
        state = "playing" if self.playing and frames > 1 else "paused"
        note = Text(
            f"video: frame {self.frame % frames + 1} of {frames} at {item.fps:g} fps, {state} (space), {item.path}",
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
        )
        if item.kind == "video":  # the note takes a line
            height -= 1
        frame = self.frame if item.kind == "video" else 0
        if graphics.backend() == "sixel":
            picture = open_image(Path(run_dir), item, frame)
            if isinstance(picture, Text):
                return picture
            self._show_sixels(picture, fit_cells(picture, width, height))
            return note if item.kind == "video" else Text("")
        image = image_renderable(Path(run_dir), item, width, height, frame)
        return Group(note, image) if item.kind == "video" else image

    def _show_sixels(self, picture: object, width: int = 0) -> None:
        """Shows ``picture`` in the sixel widget under the body (mounted when first needed), or hides it (None)."""
        found = self.query("#media-sixels")
        if picture is None:
            for widget in found:
                widget.display = False
            return
        if found:
            widget = found.first()
            widget.image = picture  # ty: ignore[missing-attribute]
        else:
            widget = graphics.sixel_widget_class()(picture, id="media-sixels")
            self.query_one("#media-scroll", VerticalScroll).mount(widget)
        widget.styles.width = width
        widget.styles.height = "auto"
        widget.display = True

    def _move_step(self, delta: int | None, to_end: bool | None = None) -> None:
        current = self._current()
        if current is None:
            return
        key, track, index = current
        if to_end is True:
            self.steps.pop(key, None)
        elif to_end is False:
            self.steps[key] = track.steps[0]
        else:
            index = max(0, min(len(track.steps) - 1, index + (delta or 0)))
            if index == len(track.steps) - 1:
                self.steps.pop(key, None)  # on the newest: follow it
            else:
                self.steps[key] = track.steps[index]
        self.redraw()

    def action_next_step(self) -> None:
        """Shows the next logged step of this name."""
        self._move_step(1)

    def action_prev_step(self) -> None:
        """Shows the previous logged step of this name."""
        self._move_step(-1)

    def action_first_step(self) -> None:
        """Shows the first logged step."""
        self._move_step(None, to_end=False)

    def action_last_step(self) -> None:
        """Shows the newest step and follows it."""
        self._move_step(None, to_end=True)

    def _move_name(self, delta: int) -> None:
        n = len(self.session.state.media.keys())
        if n:
            self.key_index = (self.key_index + delta) % n
            self.query_one("#media-scroll", VerticalScroll).scroll_home(animate=False)
            self.redraw()

    def action_next_name(self) -> None:
        """Shows the next name (images, videos, texts, histograms)."""
        self._move_name(1)

    def action_prev_name(self) -> None:
        """Shows the previous name."""
        self._move_name(-1)

    def action_scroll_body(self, pages: int) -> None:
        """Scrolls a long text sample."""
        scroll = self.query_one("#media-scroll", VerticalScroll)
        scroll.scroll_relative(y=pages * max(1, scroll.size.height - 1), animate=False)

    def action_back(self) -> None:
        """Back to the run view."""
        self.app.pop_screen()


def _nearest(steps: list[int], step: int) -> int:
    """Index of ``step`` in ``steps``, or of the closest step before it (a resume dropped it)."""
    from bisect import bisect_right

    return max(0, bisect_right(steps, step) - 1)
