"""Quitting with Stop waits for the engine and says so; pressing q again leaves it running."""

import os
import signal
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.xaxtui.conftest import wait_for
from xaxtui.app import XaxTui
from xaxtui.screens.dialogs import QuitScreen, StoppingScreen


@pytest.mark.parametrize("again", [False, True])
async def test_quit_with_stop_waits_for_a_slow_engine(
    again: bool, task_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_STOP_S", "3" if not again else "30")
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 32)) as pilot:
        session = app.launch(task_copy, ["train.max_steps=100000"], tmp_path / "runs")
        await wait_for(pilot, lambda: session.state.step > 5)
        process = session.source.process
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StoppingScreen))
        message = str(app.screen.query_one("#stopping-message", Static).render())
        assert "waiting for the engine to stop" in message and "press q again" in message
        assert process.poll() is None
        if again:
            await pilot.press("q")
        else:
            await wait_for(pilot, lambda: process.poll() is not None)
        await wait_for(pilot, lambda: app.return_code is not None)
    if again:
        assert process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
    else:
        assert process.returncode == 143
