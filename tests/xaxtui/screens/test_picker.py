"""The picker shows what Slurm says of Slurm runs, local ones and those listed over SSH on a login node; a pending
run opened from it says so in the run view's header.

A fake ``scontrol`` answers from a recording of a real one (``tests/fixtures/slurm/pending.txt``: job 1 runs on
``vm``, job 3 waits for priority); a fake ``ssh`` runs the remote line here, as a login node would.
"""

from pathlib import Path

from tests.conftest import BIN, FakeSlurm
from tests.xaxtui.conftest import wait_for
from xaxtui.app import XaxTui
from xaxtui.remote import RemoteHost, RemoteTarget
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.header import RunHeader
from xaxtui.widgets.runs import RunsTable

FAKE_SSH = """#!/bin/sh
# ssh [options] -- DEST LINE: runs LINE here; each call is logged.
echo "$*" >> "$(dirname "$0")/ssh-calls"
while [ "$1" != "--" ]; do shift; done
exec sh -c "$3"
"""


def _queued(runs: Path, run_id: str, job_id: str) -> None:
    run_dir = runs / "mnist" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "slurm_job").write_text(f"{job_id}\n")


def _login_node(tmp_path: Path) -> RemoteHost:
    ssh = tmp_path / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(0o755)
    target = RemoteTarget("login1", runs_dir=str(tmp_path / "cluster-runs"))
    return RemoteHost(target, remote_cmd=str(BIN / "xaxengine"), ssh_options=(), ssh=str(ssh))


async def test_the_picker_shows_pending_slurm_runs_here_and_over_ssh(runs_copy: Path, fake_slurm: FakeSlurm, tmp_path):
    fake_slurm.answer("pending")
    _queued(runs_copy, "queued-here", "3")
    _queued(tmp_path / "cluster-runs", "queued-there", "3")
    _queued(tmp_path / "cluster-runs", "running-there", "1")
    app = XaxTui(runs_copy, remotes=[_login_node(tmp_path)])
    async with app.run_test(size=(160, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, PickerScreen)
        table = screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        runs = {r.run_id: r for r in table.runs.values()}
        assert (runs["queued-here"].state, runs["queued-there"].state) == ("pending", "pending")
        assert (runs["running-there"].state, runs["running-there"].alive) == ("running", True)
        key = {r.run_id: k for k, r in table.runs.items()}
        assert str(table.get_cell(key["queued-here"], "slurm")) == "job 3 PENDING (Priority)"
        assert str(table.get_cell(key["queued-there"], "slurm")) == "job 3 PENDING (Priority)"
        assert str(table.get_cell(key["running-there"], "slurm")) == "job 1 RUNNING on vm"
        assert str(table.get_cell(key["20261125-070000-c3d4"], "slurm")) == ""  # not a Slurm run
        title = str(screen.query_one("#picker-title").render())
        assert "5 runs, 1 live, 2 pending in Slurm" in title
    ssh_calls = (tmp_path / "ssh-calls").read_text().splitlines()
    assert ssh_calls and all(call.endswith(f"ls --json --runs-dir {tmp_path / 'cluster-runs'}") for call in ssh_calls)


async def test_a_pending_run_opened_from_the_picker_says_what_slurm_says(runs_copy: Path, fake_slurm: FakeSlurm):
    fake_slurm.answer("pending")
    _queued(runs_copy, "queued-here", "3")
    app = XaxTui(runs_copy)
    async with app.run_test(size=(160, 32)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        table.move_cursor(row=table.get_row_index(str(runs_copy / "mnist" / "queued-here")))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_for(pilot, lambda: screen.session.state.status == "pending")
        await wait_for(pilot, lambda: "Slurm job 3 PENDING (Priority)" in str(screen.query_one(RunHeader).render()))
        assert " pending " in str(screen.query_one(RunHeader).render())
