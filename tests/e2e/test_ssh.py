"""Runs over SSH against a real OpenSSH server on 127.0.0.1 and the real engine ("remote" = this machine).

Covers: listing remote runs, a remote launch (TOML copied with ``cat >``, engine detached), attaching to the live
run, killing the ssh client mid-run and checking every ``seq`` arrives exactly once, a remote stop (``interrupted``,
exit 143) and resume, the TUI under Pilot with ``--remote``, and each connection/remote error as one clear line.
"""

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from textual.widgets import Input, RadioButton

from tests.e2e.sshd import SshServer, free_port, missing_reason, start_sshd
from tests.xaxtui.generated_runs import failed_run
from xaxengine.runs import live_pid
from xaxtui.app import build_app
from xaxtui.remote import RemoteError, RemoteHost, RemoteTailSource, RemoteTarget
from xaxtui.screens.config import ConfigScreen
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.overview import OverviewScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.sources import Batch
from xaxtui.widgets.header import RunHeader
from xaxtui.widgets.runs import RunsTable

ROOT = Path(__file__).resolve().parents[2]
ENGINE = Path(sys.executable).parent / "xaxengine"
REMOTE_CMD = f"cd {ROOT} && env HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu {ENGINE}"
SMALL = ["hidden=32", "checkpoint.save_every_n_steps=100000", "train.valid_every_n_steps=100000"]

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    runs = tmp_path_factory.mktemp("remote-runs")
    yield runs
    for lock in runs.glob("*/*/lock"):  # engines these tests started and left running after a failure
        if (pid := live_pid(lock.parent)) is not None:
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def host(server: SshServer, runs: Path) -> RemoteHost:
    target = RemoteTarget.parse(f"{server.user}@127.0.0.1:{server.port}:{runs}")
    return RemoteHost(target, remote_cmd=REMOTE_CMD, ssh_options=server.client_options())


async def _follow(source: RemoteTailSource, on_batch=None, timeout: float = 90.0) -> list[Batch]:
    batches: list[Batch] = []

    async def consume() -> None:
        async for batch in source:
            batches.append(batch)
            if on_batch is not None:
                await on_batch(batch, batches)

    try:
        await asyncio.wait_for(consume(), timeout)
    finally:
        source.close()
    return batches


def _errors(batches: list[Batch]) -> list[str]:
    return [m for b in batches for level, m in b.logs if level == "error"]


def test_error_unreachable(server: SshServer):
    host = RemoteHost(RemoteTarget("127.0.0.1", port=free_port()), ssh_options=server.client_options())
    with pytest.raises(RemoteError, match=r"^host unreachable: 127\.0\.0\.1:\d+: connect to host .*refused"):
        host.list_runs()


def test_error_auth_failed(server: SshServer, host: RemoteHost):
    stranger = RemoteHost(host.target, remote_cmd=REMOTE_CMD, ssh_options=server.client_options(server.other_key))
    with pytest.raises(RemoteError, match=r"^auth failed: .* refused our ssh keys \(BatchMode"):
        stranger.list_runs()


def test_error_engine_not_found(host: RemoteHost):
    for cmd in ("xaxengine-not-installed", "/opt/nowhere/bin/xaxengine"):
        bogus = RemoteHost(host.target, remote_cmd=cmd, ssh_options=host.ssh_options)
        with pytest.raises(RemoteError, match=r"not found on .*--remote-cmd .*XAX_REMOTE_ENGINE"):
            bogus.list_runs()


async def test_error_run_not_found(host: RemoteHost):
    with pytest.raises(RemoteError, match=r"^run not found on .*: run 'nope' not found"):
        host.control("stop", "nope")
    batches = await _follow(RemoteTailSource(host, "nope"), timeout=30)
    assert batches[-1].ended and any(e.startswith("run not found on") for e in _errors(batches))


async def test_error_permission_denied(host: RemoteHost, tmp_path: Path):
    """Real EACCES as root: the run's events file is a link to /proc/1/mem, which the kernel refuses to open."""
    try:
        open("/proc/1/mem", "rb").close()
        pytest.skip("this machine lets us open /proc/1/mem, so it cannot stand in for an unreadable file")
    except PermissionError:
        pass
    run_dir = tmp_path / "mnist" / "unreadable"  # not in the shared runs dir: `xaxengine ls` would fail on it
    run_dir.mkdir(parents=True)
    (run_dir / "events.jsonl").symlink_to("/proc/1/mem")
    batches = await _follow(RemoteTailSource(host, str(run_dir)), timeout=30)
    assert any(e.startswith("permission denied on") and "events.jsonl" in e for e in _errors(batches))


async def test_launch_attach_kill_ssh_reconnect_every_seq_once(host: RemoteHost, runs: Path):
    toml = (ROOT / "tasks" / "mnist.toml").read_bytes()
    start = ["run", "{toml}", *SMALL, "train.max_steps=8000", "train.log_every_n_steps=20", "--runs-dir", "{runs}"]
    source = RemoteTailSource(host, "ssh-kill", start=[*start, "--run-id", "ssh-kill"], toml=toml)
    killed: list[int] = []
    listed: list[str] = []

    async def kill_ssh_once(batch: Batch, batches: list[Batch]) -> None:
        scalars = sum(ev["kind"] == "scalars" for b in batches for ev in b.events)
        if not killed and scalars >= 3 and source.process is not None and source.alive:
            runs = await asyncio.to_thread(host.list_runs)  # an ssh round trip: the tail may reconnect meanwhile
            process = source.process
            if process is None or not source.alive:
                return  # the next batch tries again
            assert Path(process.args[0]).name == "ssh"
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended between the check and the kill (CI saw this once)
                return
            listed[:] = [f"{r.run_id} {r.state} {r.alive}" for r in runs]
            killed.append(process.pid)

    batches = await _follow(source, kill_ssh_once)
    seqs = [ev["seq"] for b in batches for ev in b.events]
    on_disk = [
        orjson.loads(line)["seq"] for line in (runs / "mnist" / "ssh-kill" / "events.jsonl").read_bytes().splitlines()
    ]
    assert killed and "ssh-kill running True" in listed
    assert seqs == on_disk == list(range(len(on_disk)))
    links = [b.link for b in batches if b.link]
    after = links[links.index("connected") + 1 :]
    lost = next(i for i, link in enumerate(after) if link.startswith("reconnecting"))
    assert "connected" in after[lost + 1 :] and all(link.startswith("connecting") for link in links[: -len(after) - 1])
    last = [ev for b in batches for ev in b.events if ev["kind"] == "status"][-1]
    assert last["state"] == "finished" and batches[-1].returncode == 0


async def test_tui_remote_picker_run_view_and_stop(server: SshServer, host: RemoteHost, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XAX_SSH_OPTS", " ".join(server.client_options()))
    spec = f"{server.user}@127.0.0.1:{server.port}:{host.target.runs_dir}"
    task = ROOT / "tasks" / "mnist.toml"
    app = build_app([str(task), "--remote", spec, "--remote-cmd", REMOTE_CMD, "--runs-dir", str(tmp_path / "local")])
    async with app.run_test(size=(120, 40)) as pilot:
        # config editor -> launch screen -> where: the ssh host (its devices asked over ssh) -> launch
        await _until(pilot, lambda: isinstance(app.screen, ConfigScreen), 30)
        await pilot.press("ctrl+l")
        await _until(pilot, lambda: isinstance(app.screen, LaunchScreen), 30)
        launch = app.screen
        assert isinstance(launch, LaunchScreen)
        next(b for b in launch.query("#where RadioButton").results(RadioButton) if b.name == "0").value = True
        await _until(pilot, lambda: launch.selected_host() is app.remotes[0] and launch.devices_checked, 90)
        assert "cpu: 1 device" in str(launch.query_one("#devices-info").render())
        launch.query_one("#overrides", Input).value = " ".join([*SMALL, "train.max_steps=1000000"])
        await pilot.press("ctrl+l")
        await _until(pilot, lambda: isinstance(app.screen, RunScreen), 30)
        session = app.screen.session
        assert session.remote is app.remotes[0] and session.launched
        await _until(pilot, lambda: session.state.step > 0, 90)
        assert isinstance(app.screen, RunScreen) and session.link == "connected"
        await pilot.pause(0.3)
        shown = re.search(r"step (\d+)/1000000", str(app.screen.query_one(RunHeader).render()))
        assert shown and 0 < int(shown[1]) <= session.state.step
        await pilot.press("s")
        await _until(pilot, lambda: session.ended, 60)
        assert session.state.status == "interrupted" and session.state.reason == "signal 15"
        assert session.returncode == 143
        assert any("engine exited 143" in line[-1] for line in session.state.logs)
        stopped_step, stopped_seq = session.state.step, session.state.last_seq
        await pilot.press("u")  # resume over ssh: detached `xaxengine resume RUN_DIR`, then tail from the last seq
        await _until(pilot, lambda: session.state.status == "running" and session.state.step > stopped_step, 90)
        assert session.state.last_seq > stopped_seq and session.state.run_start.get("resumed_from_step") == stopped_step
        await pilot.press("s")
        await _until(pilot, lambda: session.ended and session.state.status == "interrupted", 60)
        assert session.returncode == 143
        seqs = [orjson.loads(line)["seq"] for line in (session.run_dir / "events.jsonl").read_bytes().splitlines()]
        assert seqs == list(range(session.state.last_seq + 1))
        await pilot.press("R")  # the picker lists the remote host's runs next to the local ones
        await _until(pilot, lambda: isinstance(app.screen, PickerScreen))
        table = app.screen.query_one(RunsTable)

        def listed_interrupted() -> bool:  # an earlier scan may still show the run as running: wait for a fresh one
            return any(r.run_id == session.state.run_id and r.state == "interrupted" for r in table.runs.values())

        await _until(pilot, listed_interrupted, 30)
        row = next(r for r in table.runs.values() if r.run_id == session.state.run_id)
        assert row.key.startswith(f"{server.user}@127.0.0.1:{server.port}:")


async def test_u_resumes_a_remote_run_whose_engine_died_but_not_one_still_held(
    server: SshServer, runs: Path, tmp_path: Path, monkeypatch
):
    import fcntl
    import json

    monkeypatch.setenv("XAX_SSH_OPTS", " ".join(server.client_options()))
    run_dir = runs / "mnist" / "dead-remote"  # a run cut off at step 40 as if its engine was killed -9
    run_dir.mkdir(parents=True)
    start = {"run_id": run_dir.name, "task": "tasks.mnist:MnistTask", "run_dir": str(run_dir), "max_steps": 100}
    events = [{"v": 1, "seq": 0, "t": 1.0, "kind": "run_start", **start}]
    events.append({"v": 1, "seq": 1, "t": 2.0, "kind": "status", "state": "running", "reason": None, "step": 0})
    events.append(
        {"v": 1, "seq": 2, "t": 3.0, "kind": "scalars", "step": 40, "phase": "train", "values": {"loss": 1.0}}
    )
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    spec = f"{server.user}@127.0.0.1:{server.port}:{runs}"
    app = build_app(["--remote", spec, "--remote-cmd", REMOTE_CMD, "--runs-dir", str(tmp_path / "local")])
    notes: list[str] = []
    async with app.run_test(size=(120, 32)) as pilot:
        monkeypatch.setattr(app, "notify", lambda message, **kwargs: notes.append(str(message)))
        session = app.attach_remote(app.remotes[0], str(run_dir))
        app.push_screen(RunScreen([session]))
        await _until(pilot, lambda: session.state.step == 40 and isinstance(app.screen, RunScreen), 60)
        with open(run_dir / "lock", "w") as lock:  # an engine on the host holds the run: `u` must refuse
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            await pilot.press("u")
            await _until(pilot, lambda: "the run is still running" in notes, 60)
            assert not session.launched
        await pilot.press("u")  # the holder is gone: the TUI starts `xaxengine resume` on the host
        await _until(pilot, lambda: session.launched and session.ended, 60)
        # the fake run has no config.toml, so the remote engine refuses it: proof that the resume was attempted
        assert any("config.toml" in line[-1] for line in session.state.logs), list(session.state.logs)[-5:]


async def _until(pilot, predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


async def test_overview_reads_a_remote_runs_stdout_log_over_ssh(host: RemoteHost, tmp_path: Path):
    """``o`` on a remote failed run: the traceback is read with ``tail -c`` over ssh; a missing file is one line."""
    remote_runs = tmp_path / "remote"
    log = 'INFO compiled\nTraceback (most recent call last):\n  File "t.py", line 1\nValueError: boom\n'
    runs = [failed_run(remote_runs, log), failed_run(remote_runs, None, run_id="20261125-091500-0a0a")]
    app = build_app([str(tmp_path / "local")])
    async with app.run_test(size=(120, 40)) as pilot:
        shown = []
        for run_dir in runs:
            app.push_screen(RunScreen([app.attach_remote(host, str(run_dir))]))
            await _until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished, 60)
            await pilot.press("o")
            await _until(pilot, lambda: isinstance(app.screen, OverviewScreen) and app.screen.stdout is not None, 60)
            shown.append((app.screen.query_one("#overview-failure").border_title, app.screen.stdout))
            await pilot.press("escape", "escape")
    label = host.target.label
    assert shown[0][0] == f"traceback from {label}:{runs[0]}/stdout.log"
    assert shown[0][1].text is not None and shown[0][1].text.endswith("ValueError: boom\n")
    assert shown[1][0] == f"stdout.log: not found ({label}:{runs[1]}/stdout.log)"
