"""The engine is found without an activated venv, and a launch whose engine cannot start says so in red."""

import sys
from pathlib import Path

import pytest

from tests.xaxtui.conftest import wait_for
from xaxtui import engine
from xaxtui.app import XaxTui
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.header import RunHeader, header_text


def test_engine_next_to_the_running_python_wins_over_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "xaxengine").write_text("#!/bin/sh\n")
    (venv_bin / "xaxengine").chmod(0o755)
    on_path = tmp_path / "elsewhere"
    on_path.mkdir()
    (on_path / "xaxengine").write_text("#!/bin/sh\n")
    (on_path / "xaxengine").chmod(0o755)
    monkeypatch.delenv("XAX_ENGINE_CMD")
    monkeypatch.delenv("XAX_ENGINE", raising=False)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    assert engine.engine_cmd() == [str(venv_bin / "xaxengine")]
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert engine.engine_cmd() == [str(on_path / "xaxengine")]
    monkeypatch.setenv("XAX_ENGINE", "/opt/xax/bin/xaxengine")
    assert engine.engine_cmd() == ["/opt/xax/bin/xaxengine"]


@pytest.mark.parametrize("kind", ["missing", "exits"])
async def test_an_engine_that_cannot_start_shows_in_red_with_its_command(
    kind: str, task_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    if kind == "missing":
        command, why = str(tmp_path / "no-such-xaxengine"), "No such file or directory"
    else:
        script = tmp_path / "broken-engine"
        script.write_text("#!/bin/sh\necho 'error: tiny.toml line 3: bad value' >&2\nexit 2\n")
        script.chmod(0o755)
        command, why = str(script), "error: tiny.toml line 3: bad value"
    monkeypatch.setenv("XAX_ENGINE_CMD", command)
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_for(pilot, lambda: "engine did not start" in str(screen.query_one(RunHeader).render()))
        state = screen.session.state
        text = header_text(state)
        assert "waiting for run_start" not in text.plain and why in text.plain
        assert any("red" in str(span.style) and why in text.plain[span.start : span.end] for span in text.spans)
        errors = [message for _, level, message in state.logs if level == "error"]
        assert any(why in message and command in message for message in errors), errors
