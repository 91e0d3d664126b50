"""The log pane: one rendering of a run's events, launched or reopened, each message once, opened at the end."""

import json
import re
from pathlib import Path

from textual.widgets import Input

from tests.xaxtui.conftest import wait_for
from xaxtui.app import XaxTui
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.run import RunScreen
from xaxtui.state import add_log
from xaxtui.widgets.config_form import ConfigForm
from xaxtui.widgets.logs import LogPane

SIZE = (120, 40)
STAMP = re.compile(r"^\d\d:\d\d:\d\d ")
NOT_EVENTS = ("$ ", "engine exited", "UserWarning")  # the TUI's own lines and a stderr line that is no event


def shown(pane: LogPane) -> list[str]:
    """The pane's lines as text (a line longer than the width wraps onto the next)."""
    return [strip.text.rstrip() for strip in pane.lines]


def event_lines(lines: list[str]) -> list[str]:
    """``lines`` without the TUI's own lines and stderr lines that are no event (and their wrapped rest)."""
    out, skipping = [], False
    for line in lines:
        if STAMP.match(line):
            skipping = message(line).startswith(NOT_EVENTS)
        if not skipping:
            out.append(line)
    return out


def message(line: str) -> str:
    """A pane line without its time and level columns."""
    return line[9:].split(" ", 1)[-1].lstrip()


def pane_done(app: XaxTui) -> bool:
    """The run view shows every line of its finished, ended run."""
    screen = app.screen
    if not isinstance(screen, RunScreen) or not screen.session.state.finished or not screen.drawn.is_set():
        return False
    if screen.drawn_versions != screen.versions:
        return False
    if screen.session.launched and not screen.session.ended:
        return False
    return len(screen.query_one(LogPane).lines) >= len(screen.session.state.logs)  # the command line wraps


async def _launch(task: Path, runs_dir: Path) -> tuple[list[str], Path]:
    """Launches the fake engine for 200 steps; its pane's lines when it ended, and its run dir."""
    app = XaxTui(task, runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(ConfigForm)))
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        app.screen.query_one("#overrides", Input).value = "train.max_steps=200"
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: pane_done(app) and any("engine exited" in m for _, _, m in _logs(app)))
        await pilot.pause(0.2)
        await wait_for(pilot, lambda: pane_done(app))
        assert isinstance(app.screen, RunScreen) and app.screen.session.run_dir is not None
        return shown(app.screen.query_one(LogPane)), app.screen.session.run_dir


def _logs(app: XaxTui) -> list[tuple[float, str, str]]:
    return list(app.screen.session.state.logs) if isinstance(app.screen, RunScreen) else []


async def _reopen(run_dir: Path) -> list[str]:
    app = XaxTui(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane_done(app))
        return shown(app.screen.query_one(LogPane))


async def test_a_launched_run_shows_a_message_sent_as_event_and_on_stderr_once(task_copy: Path, tmp_path: Path):
    """The fake engine, like the real one, writes each ``log`` message on stderr too, and its own status lines."""
    lines, _ = await _launch(task_copy, tmp_path / "runs")
    messages = [message(line) for line in lines]
    assert messages.count("layout single_device: 1 device (cpu:0)") == 1, lines
    assert messages.count("step 100") == 1 and messages.count("step 200") == 1, lines
    assert messages.count("status running at step 0") == 1, lines
    assert messages.count("UserWarning: a library's stderr line that is no event") == 1, lines  # kept: no event
    assert not any("INFO" in line for line in lines), lines


async def test_a_reopened_run_shows_what_its_launched_view_showed(task_copy: Path, tmp_path: Path):
    """The same events give the same lines (status and checkpoint lines too), from the pipe or from the file."""
    launched, run_dir = await _launch(task_copy, tmp_path / "runs")
    reopened = await _reopen(run_dir)
    assert any(message(line).startswith("checkpoint at step 100 (") for line in reopened), reopened
    assert any(message(line) == "status finished at step 200" for line in reopened), reopened
    assert any(message(line).startswith("step 100 train loss=") for line in reopened), reopened
    assert reopened == event_lines(launched)


def _long_run(tmp_path: Path, n: int = 80) -> Path:
    run_dir = tmp_path / "mnist" / "20261201-000000-abcd"
    run_dir.mkdir(parents=True)
    events = [{"kind": "run_start", "run_id": run_dir.name, "task": "t:T", "run_dir": str(run_dir), "config": {}}]
    for i in range(n):  # metrics too: their charts mount after the first lines, and the pane shrinks
        events.append({"kind": "scalars", "step": i + 1, "phase": "train", "values": {"loss": 1 / (i + 1)}})
        events.append({"kind": "log", "level": "info", "message": f"line {i}"})
    events += [{"kind": "status", "state": "finished", "reason": None, "step": 0}]
    lines = [json.dumps({"v": 1, "seq": seq, "t": 1764547200.0 + seq} | ev) for seq, ev in enumerate(events)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


async def test_the_pane_opens_at_the_end_and_follows_only_while_there(tmp_path: Path):
    app = XaxTui(_long_run(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pane_done(app))
        await pilot.pause(0.1)
        pane = app.screen.query_one(LogPane)
        assert pane.max_scroll_y > 0 and pane.scroll_y == pane.max_scroll_y, (pane.scroll_y, pane.max_scroll_y)
        assert shown(pane)[-1].endswith("status finished at step 0")
        for size in ((100, 30), (80, 24)):  # a smaller window keeps the end in view
            await pilot.resize_terminal(*size)
            await pilot.pause(0.2)
            assert pane.scroll_y == pane.max_scroll_y > 0, (size, pane.scroll_y, pane.max_scroll_y)
        state = app.screen.session.state
        pane.scroll_home(animate=False)
        await pilot.pause(0.1)
        add_log(state, 0.0, "info", "while scrolled up")
        pane.update_state(state)
        await pilot.pause(0.1)
        assert pane.scroll_y == 0 and not pane.following
        pane.scroll_end(animate=False)
        await pilot.pause(0.1)
        add_log(state, 0.0, "info", "at the end again")
        pane.update_state(state)
        await pilot.pause(0.1)
        assert pane.following and pane.scroll_y == pane.max_scroll_y
