"""The media screen (``i`` in the run view), its fold, the header while ``log_heavy`` runs, and waiting for a run dir.

Runs are generated: real PNGs written with Pillow next to an ``events.jsonl`` (see :mod:`tests.xaxtui.media_run`).
"""

import asyncio
import io
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from tests.xaxtui.conftest import wait_for
from tests.xaxtui.media_run import media_events, write_media_run
from xaxtui.app import XaxTui
from xaxtui.cli_args import parse_args
from xaxtui.media import MAX_STEPS
from xaxtui.screens.media import MediaScreen
from xaxtui.screens.run import RunScreen
from xaxtui.screens.waiting import WaitingScreen
from xaxtui.state import RunState, fold
from xaxtui.widgets.header import header_text

SIZE = (100, 32)


def _body(app) -> str:
    """The body's text as a terminal 100 cells wide shows it."""
    console = Console(width=100, file=io.StringIO(), record=True, color_system=None)
    console.print(app.screen.query_one("#media-body", Static).content)
    return console.export_text()


def test_fold_keeps_paths_per_name_and_step_and_a_resume_drops_later_steps(tmp_path: Path):
    events = media_events(tmp_path)
    state = fold(RunState(), events)
    media = state.media
    assert media.keys() == [("image", "samples"), ("text", "shakespeare"), ("histogram", "grads"), *media.keys()[3:]]
    assert media.tracks["image", "samples"].steps == [100, 200, 300]
    assert media.tracks["image", "samples"].items[200].path == "artifacts/samples/00000200.png"
    assert media.tracks["histogram", "grads"].items[300].counts[3] == 20
    assert state.unknown == 0
    resume = {"v": 1, "seq": len(events), "t": 0.0, "kind": "run_start", "resumed_from_step": 150}
    fold(state, [resume])
    assert media.tracks["image", "samples"].steps == [100]
    assert media.tracks["text", "shakespeare"].steps == [100]


def test_fold_keeps_a_bounded_number_of_steps_per_name_the_newest():
    events = [
        {"v": 1, "seq": i, "t": 0.0, "kind": "text", "step": i, "name": "s", "text": str(i)}
        for i in range(5 * MAX_STEPS)
    ]
    track = fold(RunState(), events).media.tracks["text", "s"]
    assert MAX_STEPS <= len(track.steps) <= MAX_STEPS + MAX_STEPS // 8
    assert track.steps[-1] == 5 * MAX_STEPS - 1 and sorted(track.items) == track.steps


def test_fold_skips_media_events_with_unusable_fields():
    bad = [
        {"v": 1, "seq": 0, "t": 0.0, "kind": "image", "step": 1, "name": "x"},  # no path
        {"v": 1, "seq": 1, "t": 0.0, "kind": "text", "step": "3", "name": "t", "text": "a"},  # step not an int
        {"v": 1, "seq": 2, "t": 0.0, "kind": "histogram", "step": 1, "name": "h", "counts": "many"},
    ]
    state = fold(RunState(), bad)
    assert state.media.skipped == 2
    assert state.media.keys() == [("histogram", "h")]


def test_header_says_log_heavy_instead_of_eta(tmp_path: Path):
    events = media_events(tmp_path, finished=False)
    busy_at = next(i for i, ev in enumerate(events) if ev["kind"] == "busy" and ev["step"] == 200)
    state = fold(RunState(), events[: busy_at + 1])
    line = header_text(state, now=events[busy_at]["t"]).plain.splitlines()[1]
    assert "log_heavy at step 200" in line and "ETA" not in line
    fold(state, events[busy_at + 1 :])
    assert "ETA" in header_text(state, now=events[-1]["t"]).plain


async def test_media_screen_pages_steps_and_names_and_survives_bad_files(tmp_path: Path):
    run_dir = write_media_run(tmp_path / "runs" / "diffusion" / "20261201-120000-me01")
    app = XaxTui(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, MediaScreen) and app.screen.shown is not None)
        screen = app.screen
        assert isinstance(screen, MediaScreen)
        assert screen.shown == ("image", "samples", 300)  # the newest step first
        assert "▀" in _body(app) or "▄" in _body(app)  # half-blocks
        assert "step 300" in str(screen.query_one("#media-slider", Static).render())
        await pilot.press("left")
        await wait_for(pilot, lambda: screen.shown == ("image", "samples", 200))
        await pilot.press("left", "left")
        await wait_for(pilot, lambda: screen.shown == ("image", "samples", 100))
        await pilot.press("end")
        await wait_for(pilot, lambda: screen.shown == ("image", "samples", 300))
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.shown == ("text", "shakespeare", 300))
        assert "sample at step 300" in _body(app)
        await pilot.press("home")
        await wait_for(pilot, lambda: "sample at step 100" in _body(app))
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.shown == ("histogram", "grads", 300))
        assert "█" in _body(app) and "8 bins" in _body(app)
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.shown is not None and screen.shown[1] == "lost")
        assert "missing artifact: artifacts/lost.png" in _body(app)
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.shown is not None and screen.shown[1] == "corrupt")
        assert "unreadable artifact" in _body(app)
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.shown == ("video", "denoise", 300))
        assert "of 4 at 10 fps, playing (space)" in _body(app) and "▀" in _body(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))


async def test_a_video_plays_at_its_rate_pauses_on_space_and_each_frame_is_the_gifs(tmp_path: Path):
    from xaxtui.widgets.media import open_image

    run_dir = write_media_run(tmp_path / "runs" / "diffusion" / "20261201-120000-me01")
    app = XaxTui(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, MediaScreen) and app.screen.shown is not None)
        screen = app.screen
        assert isinstance(screen, MediaScreen)
        while screen.shown != ("video", "denoise", 300):
            await pilot.press("down")
            await pilot.pause()
        start = screen.frame
        await wait_for(pilot, lambda: screen.frame >= start + 5)  # 4 frames at 10 fps: it loops
        assert f"frame {screen.frame % 4 + 1} of 4" in _body(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: "paused (space)" in _body(app))
        paused_at = screen.frame
        await asyncio.sleep(0.4)  # four frame periods
        assert screen.frame == paused_at
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.frame > paused_at)
        await pilot.press("up")  # another record stops the timer
        await wait_for(pilot, lambda: screen.shown is not None and screen.shown[0] != "video")
        left_at = screen.frame
        await asyncio.sleep(0.3)
        assert screen.frame == left_at
    from xaxtui.media import MediaItem

    video = MediaItem("video", "denoise", 300, path="artifacts/videos/denoise.gif", frames=4, fps=10)
    for frame in range(6):  # frame i of the GIF is (20 i, 100, 200 - 20 i); frame 4 is frame 0 again
        picture = open_image(run_dir, video, frame)
        assert picture.getpixel((0, 0)) == (20 * (frame % 4), 100, 200 - 20 * (frame % 4))


async def test_media_screen_follows_a_live_run(tmp_path: Path):
    run_dir = tmp_path / "runs" / "diffusion" / "20261201-120000-me01"
    events = (write_media_run(run_dir, finished=False) / "events.jsonl").read_text().splitlines()
    first_image = next(i for i, line in enumerate(events) if '"image"' in line)
    (run_dir / "events.jsonl").write_text("\n".join(events[: first_image + 1]) + "\n")
    app = XaxTui(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, MediaScreen) and app.screen.shown is not None)
        assert app.screen.shown == ("image", "samples", 100)
        with (run_dir / "events.jsonl").open("a") as f:
            f.write("\n".join(events[first_image + 1 :]) + "\n")
        await wait_for(pilot, lambda: app.screen.shown == ("image", "samples", 300))


def test_a_missing_run_dir_is_accepted_by_the_cli_but_not_a_missing_task_file(tmp_path: Path, capsys):
    assert parse_args([str(tmp_path / "later")]).target == tmp_path / "later"
    try:
        parse_args([str(tmp_path / "gone.toml")])
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        raise AssertionError("a missing task file must exit 2")
    assert "no such file or directory" in capsys.readouterr().err


async def test_waits_for_a_run_dir_then_opens_it(tmp_path: Path):
    run_dir = tmp_path / "runs" / "diffusion" / "20261201-120000-me01"
    app = XaxTui(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WaitingScreen))
        message = str(app.screen.query_one("#waiting-message", Static).render())
        assert "waiting for the run to start" in message and str(run_dir) in message
        await asyncio.sleep(0.5)
        assert isinstance(app.screen, WaitingScreen)
        write_media_run(run_dir)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        assert app.screen.session.state.run_id == "20261201-120000-me01"


class TestMediaSnapshots:
    """The media screen of a generated run with a real PNG, at the smallest and a common terminal size."""

    @staticmethod
    def _app(tmp_path: Path) -> XaxTui:
        return XaxTui(write_media_run(tmp_path / "runs" / "diffusion" / "20261201-120000-me01"))

    @staticmethod
    async def _open_media(pilot, down: int = 0) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        await pilot.press("i", *["down"] * down)
        await wait_for(pilot, lambda: isinstance(app.screen, MediaScreen) and app.screen.shown is not None)
        await wait_for(pilot, lambda: app.screen.shown[0] == ["image", "text", "histogram"][down])
        await pilot.pause()

    def test_image_80x24(self, snap_compare, tmp_path: Path):
        """The newest sample grid (step 300, blue with a white bar) as half-blocks, the slider at 3/3, the footer."""

        async def run_before(pilot) -> None:
            await self._open_media(pilot)

        assert snap_compare(self._app(tmp_path), terminal_size=(80, 24), run_before=run_before)

    def test_image_120x40(self, snap_compare, tmp_path: Path):
        """The same image scaled to the larger terminal."""

        async def run_before(pilot) -> None:
            await self._open_media(pilot)

        assert snap_compare(self._app(tmp_path), terminal_size=(120, 40), run_before=run_before)

    def test_histogram_80x24(self, snap_compare, tmp_path: Path):
        """The grads histogram as an 8-column bar chart with its range, bins, values and peak."""

        async def run_before(pilot) -> None:
            await self._open_media(pilot, down=2)

        assert snap_compare(self._app(tmp_path), terminal_size=(80, 24), run_before=run_before)
