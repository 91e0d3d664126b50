"""The config editor's sweep tab under Pilot: fields become ranges, and the file it writes is one the engine loads."""

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select, Static, TabbedContent

from tests.xaxtui.conftest import wait_for
from xaxengine.sweep.cli import check_space
from xaxengine.sweep.spec import load_sweep
from xaxtui.app import XaxTui
from xaxtui.screens.config import ConfigScreen
from xaxtui.sweep_draft import parse_range
from xaxtui.widgets.sweep_builder import SweepBuilder


def _message(screen) -> str:
    return str(screen.query_one("#sweep-message", Static).render())


@pytest.mark.parametrize(
    ("kind", "text", "error"),
    [
        ("uniform", "5", "give two bounds"),
        ("log_uniform", "0, 1", "needs low > 0"),
        ("int", "1.5, 4", "must be integers"),
        ("uniform", "3, 1", "low < high"),
        ("uniform", "nan, 1", "finite bounds"),
        ("choice", " , ", "give the values"),
    ],
)
def test_bad_bounds_are_one_line_errors(kind: str, text: str, error: str):
    with pytest.raises(ValueError, match=error):
        parse_range(kind, text)


def test_choices_are_read_as_toml_values_or_plain_words():
    assert parse_range("choice", '64, 1e-3, true, "relu", gelu') == [64, 1e-3, True, "relu", "gelu"]
    assert parse_range("int", "[16, 512]") == [16, 512]


async def test_the_sweep_tab_writes_a_sweep_file_the_engine_loads(task_copy: Path):
    app = XaxTui(task_copy)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await wait_for(pilot, lambda: bool(screen.query(SweepBuilder)))
        screen.query_one(TabbedContent).active = "sweep-tab"
        await pilot.pause()
        field, dist = screen.query_one("#sweep-field", Select), screen.query_one("#sweep-dist", Select)
        bounds = screen.query_one("#sweep-bounds", Input)
        ranges = screen.query_one("#sweep-ranges", DataTable)

        field.value = "optimizer.lr"  # a float field: a log range around its value is suggested
        await wait_for(pilot, lambda: bounds.value == "0.0002, 0.02" and dist.value == "log_uniform")
        await pilot.click("#sweep-add")
        await wait_for(pilot, lambda: ranges.row_count == 1)

        field.value = "hidden"
        await wait_for(pilot, lambda: dist.value == "int" and bounds.value == "32, 128")
        dist.value = "choice"
        bounds.value = "32, 64, 128"
        bounds.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: ranges.row_count == 2)

        field.value = "train.max_steps"
        await pilot.pause()
        dist.value = "uniform"
        bounds.value = "5"
        await pilot.click("#sweep-add")
        await wait_for(pilot, lambda: "train.max_steps: uniform: give two bounds" in _message(screen))
        assert ranges.row_count == 2

        screen.query_one("#sweep-objective", Input).value = "valid/accuracy"
        screen.query_one("#sweep-direction", Select).value = "maximize"
        screen.query_one("#sweep-trials", Input).value = "6"
        screen.query_one("#sweep-parallel", Input).value = "2"
        await pilot.press("ctrl+s")
        path = task_copy.with_name("tiny.sweep.toml")
        await wait_for(pilot, lambda: _message(screen).startswith(f"wrote {path}"))
        written = path.read_text()

        screen.query_one("#sweep-objective", Input).value = "accuracy"  # no phase: the loader refuses it
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "not written" in _message(screen))
        said = _message(screen)
        assert f"{path}:" in said and "objective must be 'phase/name'" in said and "\n" not in said
        assert path.read_text() == written  # the good file stays
        assert not list(task_copy.parent.glob(".tiny.sweep.toml*"))  # no check file left behind

    spec = load_sweep(path)
    assert spec.task_path == task_copy.resolve()
    assert (spec.file.objective, spec.file.direction, spec.file.trials, spec.file.parallel, spec.file.sampler) == (
        "valid/accuracy",
        "maximize",
        6,
        2,
        "tpe",
    )
    lr, hidden = spec.params
    assert (lr.name, lr.kind, lr.log, lr.low, lr.high) == ("optimizer.lr", "float", True, 0.0002, 0.02)
    assert (hidden.name, hidden.kind, hidden.choices) == ("hidden", "categorical", (32, 64, 128))
    assert check_space(path, spec.task_path) == "mnist"  # the task's config takes every probe value


async def _written_sweep_tab(pilot, screen: ConfigScreen) -> None:
    """Adds one range (optimizer.lr) and a one-trial budget on the sweep tab."""
    await wait_for(pilot, lambda: bool(screen.query(SweepBuilder)), 60)
    screen.query_one(TabbedContent).active = "sweep-tab"
    await pilot.pause()
    screen.query_one("#sweep-field", Select).value = "optimizer.lr"
    await wait_for(pilot, lambda: screen.query_one("#sweep-dist", Select).value == "log_uniform")
    await pilot.click("#sweep-add")
    await wait_for(pilot, lambda: screen.query_one("#sweep-ranges", DataTable).row_count == 1)
    screen.query_one("#sweep-objective", Input).value = "valid/accuracy"
    screen.query_one("#sweep-trials", Input).value = "1"
    screen.query_one("#sweep-parallel", Input).value = "1"


async def test_ctrl_l_on_the_sweep_tab_starts_the_sweep_and_opens_its_view(
    task_copy: Path, tmp_path: Path, monkeypatch
):
    import subprocess
    import sys

    from xaxtui.screens.sweep import SweepScreen

    engine = Path(sys.executable).parent / "xaxengine"
    monkeypatch.setenv("XAX_ENGINE_CMD", str(engine))  # the real driver (the suite's default is the fake engine)
    runs = tmp_path / "runs"
    app = XaxTui(task_copy, runs_dir=runs)
    sweep_dir = None
    try:
        async with app.run_test(size=(110, 34)) as pilot:
            screen = app.screen
            assert isinstance(screen, ConfigScreen)
            await _written_sweep_tab(pilot, screen)
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen) or "not started" in _message(screen), 90)
            assert isinstance(app.screen, SweepScreen), _message(screen)
            sweep_dir = app.screen.sweep_dir  # ty: ignore[unresolved-attribute]
            assert sweep_dir.parent == runs / "sweeps" and (sweep_dir / "sweep.json").is_file()
            assert task_copy.with_name("tiny.sweep.toml").is_file()
            view = app.screen
            await wait_for(pilot, lambda: view.sweep is not None, 60)  # ty: ignore[unresolved-attribute]
    finally:
        if sweep_dir is not None:  # the driver is detached: it would outlive the test
            subprocess.run([str(engine), "sweep", "stop", str(sweep_dir)], capture_output=True, timeout=60, check=False)


async def test_a_driver_that_exits_at_once_is_one_red_line(task_copy: Path, tmp_path: Path, monkeypatch):
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(110, 34)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await _written_sweep_tab(pilot, screen)
        monkeypatch.setenv("XAX_ENGINE_CMD", "sh -c 'echo starting; echo no such study >&2; exit 2' --")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: "sweep not started" in _message(screen), 30)
        assert _message(screen) == "sweep not started: xaxengine sweep exited 2: no such study"
        assert isinstance(app.screen, ConfigScreen)
