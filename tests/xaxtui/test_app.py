"""Pilot tests of every screen and the main flows, against recorded runs and the fake engine."""

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from textual.widgets import Input, Static, TabbedContent, TextArea

from tests.xaxtui.conftest import RUN_A, RUN_B, RUNS, wait_for
from xaxtui.app import XaxTui, build_app
from xaxtui.commands import ActionCommands
from xaxtui.keys import KEYS
from xaxtui.screens.config import ConfigScreen
from xaxtui.screens.dialogs import QuitScreen
from xaxtui.screens.help import HelpScreen, help_table
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.charts import ChartPane, MetricChart
from xaxtui.widgets.checkpoints import CheckpointTable
from xaxtui.widgets.config_form import ConfigForm
from xaxtui.widgets.header import RunHeader
from xaxtui.widgets.runs import RunsTable

SIZE = (100, 32)


async def test_run_view_of_recorded_run_and_chart_keys():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_for(pilot, lambda: screen.query_one(CheckpointTable).row_count == 3)
        await wait_for(pilot, lambda: {c.metric for c in screen.query(MetricChart)} == {"loss", "accuracy"})
        header = str(screen.query_one(RunHeader).render())
        assert "finished" in header and "step 300/300" in header
        for key in ("l", "x", "m"):
            await pilot.press(key)
        options = screen.query_one(ChartPane).options
        assert options.log_y and options.x_axis == "time" and options.smoothing == 0.6
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"acc", "enter")
        await wait_for(pilot, lambda: [c.metric for c in screen.query(MetricChart)] == ["accuracy"])


async def test_header_shows_rates_step_time_mfu_and_flags_a_data_bound_run(tmp_path: Path):
    run_dir = tmp_path / "mnist" / "timed"
    run_dir.mkdir(parents=True)
    lines = (RUN_A / "events.jsonl").read_text().splitlines()
    last_seq = json.loads(lines[-1])["seq"]
    timing = {"steps_per_s": 412.5, "samples_per_s": 52800.0, "step_ms": 1.85, "data_wait_frac": 0.31, "mfu": 0.402}
    timing |= {"step_frac": 0.6, "valid_frac": 0.05, "log_frac": 0.02, "checkpoint_frac": 0.0, "profile_frac": 0.0}
    lines.append(
        json.dumps(
            {
                "v": 1,
                "seq": last_seq + 1,
                "t": 1764050400.0,
                "kind": "scalars",
                "step": 300,
                "phase": "timing",
                "values": timing,
            }
        )
    )
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    app = XaxTui(run_dir)
    async with app.run_test(size=(140, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        header = app.screen.query_one(RunHeader)
        await wait_for(pilot, lambda: "DATA-BOUND 31% data wait" in str(header.render()))
        text = str(header.render())
        assert "step 1.85 ms" in text and "MFU 40.2%" in text and "steps/s" in text
        split = str(app.screen.query_one("#stat-time", Static).render())
        assert split == "time  step 60% data 31% valid 5% log 2%"
        assert "data_wait_frac" not in {c.metric for c in app.screen.query(MetricChart)}


async def test_bad_lines_are_counted_and_shown():
    app = XaxTui(RUN_B)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        assert app.screen.session.state.bad_lines == 1
        await wait_for(pilot, lambda: "1 bad lines" in str(app.screen.query_one(RunHeader).render()))


async def test_header_shows_a_remote_link_that_is_not_up():
    app = XaxTui(RUN_B)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert "reconnecting" not in screen.header_extra()
        screen.session.link = "reconnecting (attempt 2, in 1.0 s)"
        assert "reconnecting (attempt 2, in 1.0 s)" in screen.header_extra()
        screen.session.link = "connected"
        assert "connected" not in screen.header_extra()


async def test_picker_lists_runs_and_compares_two():
    app = XaxTui(RUNS)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        first = table.runs[table.current_key()]
        assert first.run_id == "20261125-070000-c3d4" and first.state == "finished" and first.step == 200
        assert first.last_loss is not None
        await pilot.press("space", "down", "space", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        assert len(app.screen.sessions) == 2
        await wait_for(pilot, lambda: all(s.state.finished for s in app.screen.sessions))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))


async def test_help_lists_every_registered_key_and_palette_has_actions():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        entries = ActionCommands(app.screen).entries()
        assert {"Log y", "Stop", "Help", "Quit"} <= {k.description for k in entries}
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(help_table())
        text = console.export_text()
        assert all(k.description in text for k in KEYS)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))


async def test_config_form_edit_save_keeps_comments_and_refuses_bad_values(task_copy: Path):
    app = XaxTui(task_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        await wait_for(pilot, lambda: any(i.name == "train.max_steps" for i in screen.query(Input)))
        field = next(i for i in screen.query(Input) if i.name == "train.max_steps")
        field.value = "many"
        await pilot.pause(0.05)
        assert "expected int" in str(screen.query_one("#error-2").render()) or not field.is_valid
        assert screen.action_save() is False
        assert "train.max_steps" in str(screen.query_one("#config-message").render())
        assert "max_steps = 300" in task_copy.read_text()
        field.value = "450"
        await pilot.press("ctrl+s")
        saved = task_copy.read_text()
        assert "max_steps = 450" in saved and "# peak learning rate" in saved and "# width of the hidden" in saved
        screen.query_one(TabbedContent).active = "toml-tab"
        screen.query_one(TextArea).load_text("[train\nbroken")
        assert screen.action_save() is False and task_copy.read_text() == saved


async def test_launch_watch_stop_checkpoint_resume(task_copy: Path, tmp_path: Path):
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query(ConfigForm)))
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        assert [b.disabled for b in app.screen.query("RadioButton")] == [False, True, True, True]
        app.screen.query_one("#overrides", Input).value = "train.max_steps=100000"
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        session = app.screen.session
        await wait_for(pilot, lambda: session.state.step > 20)
        first = session.state.step
        await wait_for(pilot, lambda: session.state.step > first + 10)
        assert session.run_dir is not None and session.run_dir.parent.parent == tmp_path / "runs"
        await pilot.press("s")
        await wait_for(pilot, lambda: session.state.status == "interrupted" and session.ended)
        assert session.returncode == 143
        stopped_at = session.state.step
        await wait_for(pilot, lambda: app.screen.query_one(CheckpointTable).row_count >= 1)
        assert session.state.checkpoints[-1]["step"] == stopped_at
        await pilot.press("u")
        await wait_for(pilot, lambda: session.state.status == "running" and session.state.step > stopped_at + 5)
        await pilot.press("c")
        await wait_for(pilot, lambda: session.state.checkpoints[-1]["step"] > stopped_at)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        process = session.source.process
        await pilot.press("s")
    assert process.wait(timeout=10) == 143


def _killed_copy(tmp_path: Path) -> Path:
    """RUN_A cut off at step 250, as if its engine had been killed -9: no final status, checkpoints up to 200."""
    run_dir = tmp_path / "mnist" / RUN_A.name
    run_dir.mkdir(parents=True)
    events = [json.loads(line) for line in (RUN_A / "events.jsonl").read_text().splitlines()]
    kept = [e for e in events if e.get("step", 0) <= 250 and not (e["kind"] == "status" and e["state"] == "finished")]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in kept))
    return run_dir


async def test_resume_a_run_whose_engine_died_but_not_one_whose_lock_is_held(tmp_path: Path):
    import fcntl

    run_dir = _killed_copy(tmp_path)
    app = XaxTui(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.step == 250)
        session = app.screen.session
        with open(run_dir / "lock", "w") as lock:  # a live engine elsewhere holds the run: `u` must refuse
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            await pilot.press("u")
            await pilot.pause(0.3)
            assert not session.launched
        await pilot.press("u")  # the lock died with its holder: resume from the step-200 checkpoint
        # the exit code arrives after the final status event: wait for the source to end, not for the status
        await wait_for(pilot, lambda: session.launched and session.ended)
        assert session.state.status == "finished" and session.state.step == 300 and session.returncode == 0


async def test_quit_detach_leaves_engine_running(task_copy: Path, tmp_path: Path):
    app = XaxTui(task_copy, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        session = app.launch(task_copy, ["train.max_steps=100000"], tmp_path / "runs")
        await wait_for(pilot, lambda: session.state.step > 5)
        pid = session.source.process.pid
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("d")
    try:
        os.kill(pid, 0)
    finally:
        os.kill(pid, signal.SIGTERM)


def test_main_help():
    out = subprocess.run(
        [sys.executable, "-c", "from xaxtui.app import main; main(['--help'])"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and "RUNS_DIR" not in out.stderr and "task .toml" in out.stdout


def test_remote_cmd_applies_to_hosts_added_later_even_without_remote(monkeypatch):
    monkeypatch.delenv("XAX_REMOTE_ENGINE", raising=False)
    app = build_app(["--remote-cmd", "/opt/xax/bin/xaxengine"])
    assert app.add_remote("me@gpu1:2222").remote_cmd == "/opt/xax/bin/xaxengine"
    assert build_app([]).add_remote("gpu2").remote_cmd == "xaxengine"


async def test_run_view_fits_80x24():
    app = XaxTui(RUN_A)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        await wait_for(pilot, lambda: [c.metric for c in app.screen.query(MetricChart)] == ["loss"])
        charts = list(app.screen.query(MetricChart))
        await wait_for(pilot, lambda: charts[0].size.height >= 8)
        assert app.screen.query_one(CheckpointTable).region.bottom <= 24
