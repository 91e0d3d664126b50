"""The launch screen reads the layouts from ``xaxengine devices`` and passes the chosen one as overrides."""

import sys
from pathlib import Path

import pytest
from textual.widgets import Input, RadioButton, RadioSet, Static

from tests.xaxtui.conftest import FIXTURES, wait_for
from xaxtui.app import XaxTui
from xaxtui.screens import launch
from xaxtui.screens.launch import UNAVAILABLE, LaunchScreen, layout_overrides
from xaxtui.screens.run import RunScreen

SIZE = (100, 32)
DEVICES_ENGINE = FIXTURES / "devices_engine.py"


@pytest.fixture(autouse=True)
def _no_devices_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "_DEVICES_CACHE", {})


def _buttons(screen: LaunchScreen) -> dict[str, RadioButton]:
    return {b.name or "": b for b in screen.query(RadioButton)}


def test_layout_overrides():
    assert layout_overrides("single_device", 4) == []
    assert layout_overrides("multi_device", 4) == ["launch.layout=multi_device", "launch.num_devices=4"]
    assert layout_overrides("multi_cpu", 3) == ["launch.layout=multi_cpu", "launch.num_devices=3"]
    assert layout_overrides("multi_process", 2) == ["launch.layout=multi_process", "launch.num_processes=2"]


async def test_listed_layouts_enabled_and_passed_as_overrides(
    task_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XAX_ENGINE_CMD", f"{sys.executable} {DEVICES_ENGINE}")
    monkeypatch.setenv("FAKE_LAYOUTS", "single_device,multi_cpu,multi_process")
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        app.open_launch(task_copy)
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.devices_checked, 60)
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        buttons = _buttons(screen)
        assert {n for n, b in buttons.items() if not b.disabled} == {"single_device", "multi_cpu", "multi_process"}
        assert UNAVAILABLE in str(buttons["multi_device"].label)
        assert "cpu: 2 devices" in str(screen.query_one("#devices-info", Static).render())
        assert screen.query_one("#layout-count", Input).disabled
        buttons["multi_cpu"].value = True
        await wait_for(pilot, lambda: screen.selected_layout() == "multi_cpu")
        count = screen.query_one("#layout-count", Input)
        await wait_for(pilot, lambda: not count.disabled and count.value == "4")
        count.value = "3"
        screen.query_one("#overrides", Input).value = "train.max_steps=30"
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        session = app.screen.session
        await wait_for(pilot, lambda: session.ended, 60)
        assert session.state.run_start["config"]["launch"] == {"layout": "multi_cpu", "num_devices": 3}
        assert session.state.status == "finished" and session.state.step == 30


async def test_devices_failure_falls_back_to_single_device(task_copy: Path, tmp_path: Path):
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        app.open_launch(task_copy)
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.devices_checked, 60)
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        buttons = _buttons(screen)
        assert [b.disabled for b in buttons.values()] == [False, True, True, True]
        assert all(UNAVAILABLE in str(b.label) for n, b in buttons.items() if n != "single_device")
        assert "single device only" in str(screen.query_one("#devices-info", Static).render())
        assert screen.query_one(RadioSet).pressed_button is buttons["single_device"]
