"""The run overview (``o`` or a click on the run header): facts from ``run_start``, the filterable config, and a failed
run's traceback from ``stdout.log`` (locally, over a stand-in ssh that runs the command here, and from a real failed
engine run); a missing or unreadable ``stdout.log`` is one line."""

import platform
import socket
import subprocess
import traceback
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.text import Text

from tests.fixtures.faults import ENGINE, FAST, REPO, engine
from tests.xaxtui.conftest import RUN_A, wait_for
from tests.xaxtui.generated_runs import failed_run
from xaxtui.app import XaxTui
from xaxtui.remote import RemoteHost, RemoteTarget
from xaxtui.run_overview import MAX_LINES, StdoutLog, facts, read_remote
from xaxtui.screens.overview import OverviewScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.header import RunHeader


def _boom() -> None:
    raise ValueError("boom")


def real_traceback() -> str:
    """A traceback as the engine writes it (``traceback.format_exc()`` of a real exception)."""
    try:
        _boom()
    except ValueError:
        return traceback.format_exc()
    raise AssertionError("unreachable")


async def _overview(pilot, app: XaxTui, how: str = "key") -> OverviewScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.drawn.is_set())  # no chart needed
    if how == "click":
        await pilot.click(RunHeader)
    else:
        await pilot.press("o")
    await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
    screen = app.screen
    assert isinstance(screen, OverviewScreen)
    return screen


def _facts(screen: OverviewScreen) -> dict[str, str]:
    return dict(facts(screen.session))


def _traceback_text(screen: OverviewScreen) -> str:
    content = screen.query_one("#overview-traceback").content
    return content.plain if isinstance(content, Text) else str(content)


async def test_overview_of_a_recorded_run_shows_its_facts_and_filters_its_config():
    app = XaxTui(RUN_A)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _overview(pilot, app)
        facts = _facts(screen)
        assert facts["host"] == "fake-host (pid 9336)"
        assert facts["git"] == "unknown"  # recorded as null
        assert facts["devices"] == "cpu:0 (layout single_device)"
        assert facts["versions"].startswith("python 3.12.1 · jax unknown · jaxlib unknown")
        assert facts["status"] == "finished at step 300"
        assert facts["run dir"] == RUN_A.as_posix()
        assert "slurm" not in facts and "resumed" not in facts
        assert screen.query_one("#overview-failure").has_class("-ok")  # no failure pane for a finished run
        assert len(screen.config_shown) == 7 and ("optimizer.lr", "0.002") in screen.config_shown
        await pilot.press("slash", "l", "r")
        await wait_for(pilot, lambda: screen.config_shown == [("optimizer.lr", "0.002")])
        assert "1 of 7 keys match 'lr'" in str(screen.query_one("#overview-config").border_title)
        await pilot.press("escape")  # clears the filter first
        await wait_for(pilot, lambda: len(screen.config_shown) == 7)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))


async def test_clicking_a_failed_runs_header_shows_the_traceback_from_stdout_log(tmp_path: Path):
    log = "12:00:00 INFO compiled train_step\n" * 500 + real_traceback() + "12:00:01 ERROR run failed at step 3\n"
    run_dir = failed_run(tmp_path, log)
    app = XaxTui(run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
        assert "o: traceback" in str(app.screen.query_one(RunHeader).content)
        screen = await _overview(pilot, app, how="click")
        await wait_for(pilot, lambda: screen.stdout is not None)
        shown = _traceback_text(screen)
        assert shown.startswith("Traceback (most recent call last):")
        assert "ValueError: boom" in shown and "in _boom" in shown and "INFO compiled" not in shown
        assert shown.endswith("ERROR run failed at step 3")
        assert screen.query_one("#overview-failure").border_title == f"traceback from {run_dir / 'stdout.log'}"
        facts = _facts(screen)
        assert facts["status"] == "failed at step 3: ValueError: boom"
        assert facts["git"] == "0123456789ab (dirty)"
        assert facts["versions"].startswith("python 3.12.1 · jax 0.12.1 · jaxlib unknown")


@pytest.mark.parametrize("kind", ["missing", "directory", "no traceback"])
async def test_a_missing_or_unreadable_stdout_log_is_one_line(tmp_path: Path, kind: str):
    run_dir = failed_run(tmp_path, None if kind != "no traceback" else "line 1\nline 2\n")
    if kind == "directory":
        (run_dir / "stdout.log").mkdir()
    app = XaxTui(run_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _overview(pilot, app)
        await wait_for(pilot, lambda: screen.stdout is not None)
        shown = _traceback_text(screen)
        title = str(screen.query_one("#overview-failure").border_title)
        if kind == "no traceback":
            assert title == f"no traceback in {run_dir / 'stdout.log'}; its last lines" and shown == "line 1\nline 2"
            return
        assert "\n" not in shown and shown == title
        expected = "not found" if kind == "missing" else "Is a directory"
        assert shown.startswith("stdout.log: ") and expected in shown and str(run_dir / "stdout.log") in shown


def fake_ssh(tmp_path: Path) -> Path:
    """An ``ssh`` stand-in: drops the options and the destination and runs the remote line here with ``sh``."""
    path = tmp_path / "ssh"
    path.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift 2\nexec sh -c "$1"\n')
    path.chmod(0o755)
    return path


def test_read_remote_reads_the_tail_over_ssh_and_says_what_is_missing(tmp_path: Path):
    host = RemoteHost(RemoteTarget("gpu1"), ssh=str(fake_ssh(tmp_path)), ssh_options=())
    log = tmp_path / "stdout.log"
    log.write_text("x" * 100 + "\nfirst whole line\n" + real_traceback())
    got = read_remote(host, str(log), max_bytes=len(log.read_bytes()) - 50)
    assert got.text is not None and got.text.startswith("first whole line\n")  # the cut line is dropped
    title, body = got.failure()
    assert title == f"traceback from gpu1:{log}" and body.endswith("ValueError: boom")
    missing = read_remote(host, str(tmp_path / "nope" / "stdout.log"))
    assert missing == StdoutLog(
        f"gpu1:{tmp_path}/nope/stdout.log", None, f"not found (gpu1:{tmp_path}/nope/stdout.log)"
    )
    assert missing.failure() == (f"stdout.log: {missing.problem}", "")


async def test_overview_of_a_remote_run_reads_stdout_log_over_ssh(tmp_path: Path):
    """A remote run followed through the stand-in ssh (``xaxengine tail`` runs here) whose run failed."""
    run_dir = failed_run(tmp_path / "remote-runs", real_traceback())
    host = RemoteHost(RemoteTarget("gpu1"), remote_cmd=str(ENGINE), ssh=str(fake_ssh(tmp_path)), ssh_options=())
    app = XaxTui(tmp_path / "local-runs")
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(RunScreen([app.attach_remote(host, str(run_dir))]))
        screen = await _overview(pilot, app)
        await wait_for(pilot, lambda: screen.stdout is not None)
        assert screen.session.remote is host
        assert screen.query_one("#overview-failure").border_title == f"traceback from gpu1:{run_dir}/stdout.log"
        assert _traceback_text(screen).endswith("ValueError: boom")
        assert _facts(screen)["run dir"] == f"gpu1:{run_dir}"


async def test_overview_of_a_real_failed_engine_run(tmp_path: Path):
    """``xaxengine run`` of a task whose loss raises: what its run_start recorded and what it wrote to stdout.log."""
    done = engine(
        "run",
        "tests/fixtures/tasks/faulty.toml",
        *FAST,
        "raise_in_loss=true",
        "--runs-dir",
        str(tmp_path),
        "--run-id",
        "x",
    )
    assert done.returncode == 1, done.stderr
    app = XaxTui(tmp_path / "faulty" / "x")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _overview(pilot, app)
        await wait_for(pilot, lambda: screen.stdout is not None)
        shown = _traceback_text(screen)
        assert shown.startswith("Traceback (most recent call last):") and "ValueError: boom" in shown
        facts = _facts(screen)
        assert facts["host"].startswith(f"{socket.gethostname()} (pid ")
        assert facts["versions"].startswith(f"python {platform.python_version()} · jax {version('jax')} · ")
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        assert facts["git"].startswith(head.stdout.strip()[:12])
        assert facts["devices"] == "cpu:0 (layout single_device)"  # JAX_PLATFORMS=cpu, one device
        assert facts["status"] == "failed at step 0: ValueError: boom"
        assert ("hidden", "32") in screen.config_shown and ("raise_in_loss", "true") in screen.config_shown


def test_a_deep_traceback_keeps_its_head_and_the_frames_nearest_the_exception():
    frames = "".join(f'  File "f.py", line {i}, in f\n    f()\n' for i in range(1000))
    log = StdoutLog("stdout.log", "old\nTraceback (most recent call last):\n" + frames + "RecursionError: deep\n")
    title, body = log.failure()
    lines = body.splitlines()
    assert title == "traceback from stdout.log" and len(lines) == MAX_LINES + 1
    assert (
        lines[0] == "Traceback (most recent call last):" and lines[1] == f"  … {2002 - MAX_LINES} lines left out …"
    )  # 1 + 2000 + 1 lines
    assert lines[-1] == "RecursionError: deep" and lines[-2] == "    f()"


async def test_a_run_that_fails_while_its_overview_is_open_gets_its_traceback(tmp_path: Path):
    run_dir = failed_run(tmp_path, None)
    events = run_dir / "events.jsonl"
    lines = events.read_text().splitlines(keepends=True)
    events.write_text("".join(lines[:-1]))  # still running: the failed status comes later
    app = XaxTui(run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.step > 0)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await pilot.pause(0.3)
        assert screen.stdout is None and screen.query_one("#overview-failure").has_class("-ok")
        (run_dir / "stdout.log").write_text(real_traceback())  # the engine writes it before its failed status
        with events.open("a") as f:
            f.write(lines[-1])
        await wait_for(pilot, lambda: screen.stdout is not None)
        assert not screen.query_one("#overview-failure").has_class("-ok")
        assert _traceback_text(screen).endswith("ValueError: boom")
        assert _facts(screen)["status"] == "failed at step 3: ValueError: boom"
