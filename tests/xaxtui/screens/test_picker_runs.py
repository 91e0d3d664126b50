"""Telling runs apart in the picker: the config values that differ as columns, duration, best valid loss, tags;
sort, filter, and tag / note / archive / delete on copies of the recorded runs (the fixtures are never written)."""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FakeSlurm
from tests.xaxtui.conftest import RUN_B, wait_for
from xaxengine.run_delete import delete_run
from xaxengine.runs import RunError, RunLock
from xaxtui.app import XaxTui
from xaxtui.catalog import scan_runs
from xaxtui.screens.dialogs import ConfirmDialog, TextPrompt
from xaxtui.screens.picker import PickerScreen
from xaxtui.widgets.run_columns import differing_keys
from xaxtui.widgets.runs import RunsTable

A, B, C = "20261125-060000-a1b2", "20261125-070000-c3d4", "20261125-080000-e5f6"


@pytest.fixture
def three_runs(runs_copy: Path) -> Path:
    """The two recorded runs and a third like the second with ``hidden = 128`` and ``lr = 0.003``, started later."""
    run_c = runs_copy / "mnist" / C
    run_c.mkdir()
    out = []
    for line in (RUN_B / "events.jsonl").read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:  # the recording keeps a garbage line: so does the copy
            out.append(line)
            continue
        e["t"] += 3600
        if e["kind"] == "run_start":
            e["config"]["hidden"], e["config"]["optimizer"]["lr"] = 128, 0.003
            e["run_id"] = C
        out.append(json.dumps(e, separators=(",", ":")))
    (run_c / "events.jsonl").write_text("\n".join(out) + "\n")
    return runs_copy


async def _picker(pilot, app: XaxTui, rows: int) -> RunsTable:
    table = app.screen.query_one(RunsTable)
    await wait_for(pilot, lambda: table.row_count == rows and app.screen.scans_shown >= 1)
    return table


def _column(table: RunsTable, key: str) -> list[str]:
    return [str(table.get_cell(row_key, key)) for row_key in table.rows]


def _ids(table: RunsTable) -> list[str]:
    return [table.runs[k.value].run_id for k in table.rows if k.value]


def test_differing_keys_are_the_widest_spread_first_and_capped_by_width(three_runs: Path):
    runs = scan_runs(three_runs)
    assert differing_keys(runs) == ["optimizer.lr", "hidden", "train.max_steps"]
    assert differing_keys(runs, width=10) == ["optimizer.lr"]  # `0.002` + padding fits, `hidden` no longer does
    assert differing_keys(runs[:1]) == []
    queued = three_runs / "mnist" / "queued"  # a Slurm run with no event yet has no config: it differs in nothing
    queued.mkdir()
    (queued / "slurm_job").write_text("3\n")
    assert differing_keys(scan_runs(three_runs)) == ["optimizer.lr", "hidden", "train.max_steps"]


async def test_picker_shows_differing_config_duration_and_best_valid(three_runs: Path):
    app = XaxTui(three_runs)
    async with app.run_test(size=(160, 30)) as pilot:
        table = await _picker(pilot, app, 3)
        assert _ids(table) == [C, B, A]  # newest first
        assert table.diff_keys == ["optimizer.lr", "hidden", "train.max_steps"]
        assert "task" not in table.diff_keys and "train.log_every_n_steps" not in table.diff_keys  # all equal
        assert _column(table, "config:optimizer.lr") == ["0.003", "0.001", "0.002"]
        assert _column(table, "config:hidden") == ["128", "64", "64"]
        assert _column(table, "duration") == ["0:50", "0:50", "1:15"]
        assert _column(table, "best valid") == ["0.7892", "0.7892", "0.4738"]
        labels = [str(c.label) for c in table.ordered_columns]
        assert "lr" in labels and "hidden" in labels and "max_steps" in labels
    app = XaxTui(three_runs)
    async with app.run_test(size=(60, 24)) as pilot:  # narrow: fewer diff columns, the widest spread kept
        table = await _picker(pilot, app, 3)
        assert table.diff_keys == ["optimizer.lr", "hidden"]
        assert [c.key.value for c in table.ordered_columns][:5] == [
            "mark",
            "run id",
            "status",
            "config:optimizer.lr",
            "config:hidden",
        ]


async def test_sort_cycles_columns_and_reverses(three_runs: Path):
    app = XaxTui(three_runs)
    async with app.run_test(size=(160, 30)) as pilot:
        table = await _picker(pilot, app, 3)
        order = table.columns_in_order()
        await pilot.press("o")  # started -> task, ascending (ties keep their order)
        assert table.sort_column == order[order.index("started") + 1] == "task"
        for _ in range(len(order)):
            if table.sort_column == "duration":
                break
            await pilot.press("o")
        assert _ids(table)[-1] == A  # the longest
        for _ in range(len(order)):
            if table.sort_column == "config:optimizer.lr":
                break
            await pilot.press("o")
        assert _ids(table) == [B, A, C]  # 0.001 < 0.002 < 0.003
        assert "▲" in str(table.ordered_columns[table.get_column_index("config:optimizer.lr")].label)
        await pilot.press("O")
        assert _ids(table) == [C, A, B]
        assert "▼" in str(table.ordered_columns[table.get_column_index("config:optimizer.lr")].label)


async def test_filter_by_substring_and_key_value(three_runs: Path):
    app = XaxTui(three_runs)
    async with app.run_test(size=(160, 30)) as pilot:
        table = await _picker(pilot, app, 3)
        await pilot.press("slash", *"lr=0.00", "3")
        assert _ids(table) == [C]
        assert "1 shown" in str(app.screen.query_one("#picker-title").render())
        await pilot.press("enter")
        assert table.has_focus
        await pilot.press("slash", *("backspace",) * 10, *"a1b2", "enter")
        assert _ids(table) == [A]
        await pilot.press("slash", *("backspace",) * 10, *"hidden=64 status=finished", "enter")
        assert sorted(_ids(table)) == [A, B]
        await pilot.press("slash", *("backspace",) * 30, *"nothing-like-this", "enter")
        assert table.row_count == 0
        await pilot.press("slash", *("backspace",) * 30, "enter")
        assert table.row_count == 3
        await wait_for(pilot, lambda: app.screen.scans_shown >= 2, timeout=10)  # a rescan keeps the filter
        await pilot.press("slash", *"step=300", "enter")
        await wait_for(pilot, lambda: app.screen.scans_shown >= 3, timeout=10)
        assert _ids(table) == [A]
        await pilot.press("slash", "escape")  # escape clears and closes the filter
        await wait_for(pilot, lambda: table.row_count == 3)
        assert not app.screen.query_one("#runs-filter").display and table.filter_text == ""


async def test_tag_and_note_are_written_atomically_and_listed_by_ls(three_runs: Path, capsys):
    app = XaxTui(three_runs)
    async with app.run_test(size=(160, 30)) as pilot:
        table = await _picker(pilot, app, 3)
        assert table.current_run().run_id == C
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt))
        await pilot.press(*"best, lr-sweep best", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        notes = json.loads((three_runs / "mnist" / C / "notes.json").read_text())
        assert notes["tags"] == ["best", "lr-sweep"]
        assert str(table.get_cell(table.current_key(), "tags")) == "best, lr-sweep"
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt))
        await pilot.press(*"wider net", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        notes = json.loads((three_runs / "mnist" / C / "notes.json").read_text())
        assert notes == {"tags": ["best", "lr-sweep"], "note": "wider net", "archived": False}
        await pilot.press("t")  # escape changes nothing
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert json.loads((three_runs / "mnist" / C / "notes.json").read_text())["tags"] == ["best", "lr-sweep"]
        await pilot.press("slash", *"tags=lr-sweep", "enter")
        assert _ids(table) == [C]
        await wait_for(pilot, lambda: app.screen.scans_shown >= 2, timeout=10)  # a rescan reads them back
        assert table.runs[table.current_key()].tags == ["best", "lr-sweep"]
    assert not list((three_runs / "mnist" / C).glob(".notes.json.*"))  # no temporary file left
    from xaxengine.cli import main

    assert main(["ls", "--runs-dir", str(three_runs)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(C))
    assert line.endswith("[best, lr-sweep]")
    app = XaxTui(three_runs)
    async with app.run_test(size=(160, 30)) as pilot:  # an empty answer clears the tags
        table = await _picker(pilot, app, 3)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt))
        await pilot.press("ctrl+a", "ctrl+k", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert json.loads((three_runs / "mnist" / C / "notes.json").read_text())["tags"] == []


async def test_archive_hides_the_run_and_a_key_shows_archived(three_runs: Path):
    app = XaxTui(three_runs)
    async with app.run_test(size=(160, 30)) as pilot:
        table = await _picker(pilot, app, 3)
        await pilot.press("A")
        assert _ids(table) == [B, A]
        assert json.loads((three_runs / "mnist" / C / "notes.json").read_text())["archived"] is True
        assert "1 archived (hidden" in str(app.screen.query_one("#picker-title").render())
        await wait_for(pilot, lambda: app.screen.scans_shown >= 2, timeout=10)
        assert _ids(table) == [B, A]  # still hidden after a rescan
        await pilot.press("H")
        assert _ids(table) == [C, B, A]
        key_c = next(k for k, r in table.runs.items() if r.run_id == C)
        assert str(table.get_cell(key_c, "run id")) == f"{C} (archived)"
        await pilot.press("up", "up", "up")  # C, the newest, is the first row
        assert table.current_run().run_id == C
        await pilot.press("A")  # unarchive
        assert json.loads((three_runs / "mnist" / C / "notes.json").read_text())["archived"] is False
        await pilot.press("H")
        assert _ids(table) == [C, B, A]
    assert (three_runs / "mnist" / C / "events.jsonl").exists()  # archiving moves nothing


async def test_delete_asks_first_and_refuses_a_live_run(three_runs: Path):
    run_c, run_b = three_runs / "mnist" / C, three_runs / "mnist" / B
    lock = RunLock(run_b)
    lock.acquire()  # run B's engine is alive (this process holds its lock)
    try:
        app = XaxTui(three_runs)
        async with app.run_test(size=(160, 30)) as pilot:
            table = await _picker(pilot, app, 3)
            await wait_for(pilot, lambda: any(r.alive for r in table.runs.values()))
            await pilot.press("D")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("n")  # no: nothing goes
            await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
            assert run_c.is_dir()
            await pilot.press("D")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_for(pilot, lambda: not run_c.exists())
            assert _ids(table) == [B, A]
            assert table.current_run().run_id == B and table.current_run().alive
            await pilot.press("D")  # the live run: refused before any dialog
            await pilot.pause()
            assert isinstance(app.screen, PickerScreen) and run_b.is_dir()
        with pytest.raises(RunError, match="engine is running"):
            delete_run(run_b, three_runs)  # the catalogue's check, also when the picker's row was stale
    finally:
        lock.release()
    assert run_b.is_dir()


def test_delete_refuses_a_run_whose_slurm_job_has_not_ended(runs_copy: Path, fake_slurm: FakeSlurm):
    fake_slurm.answer("pending")  # job 3 waits for priority
    queued = runs_copy / "mnist" / "queued"
    queued.mkdir()
    (queued / "slurm_job").write_text("3\n")
    with pytest.raises(RunError, match="Slurm job 3 PENDING"):
        delete_run(queued, runs_copy)
    assert queued.is_dir()


def test_delete_never_leaves_the_runs_dir(three_runs: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere" / "run"
    shutil.copytree(three_runs / "mnist" / A, outside)
    with pytest.raises(RunError, match="not inside the runs dir"):
        delete_run(outside, three_runs)
    with pytest.raises(RunError, match="not inside the runs dir"):
        delete_run(three_runs, three_runs)
    with pytest.raises(RunError, match="not inside the runs dir"):
        delete_run(three_runs / "mnist" / ".." / ".." / "elsewhere" / "run", three_runs)
    (three_runs / "mnist" / "link").symlink_to(outside)
    with pytest.raises(RunError, match="not inside the runs dir"):
        delete_run(three_runs / "mnist" / "link", three_runs)
    with pytest.raises(RunError, match="not a run directory"):
        delete_run(three_runs / "mnist", three_runs)
    assert outside.is_dir() and (three_runs / "mnist" / A).is_dir()


async def test_a_rescan_finding_the_same_runs_does_not_rebuild_the_table(three_runs: Path):
    app = XaxTui(three_runs)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen) and app.screen.scans_shown >= 1)
        screen = app.screen
        assert isinstance(screen, PickerScreen)
        table = screen.query_one(RunsTable)
        built = table.rebuilds
        assert table.row_count == 3 and built >= 1
        for _ in range(2):
            scans = screen.scans_shown
            await pilot.press("r")
            await wait_for(pilot, lambda scans=scans: screen.scans_shown > scans)
        assert table.rebuilds == built and table.row_count == 3  # nothing changed on disk: nothing rebuilt
        shutil.copytree(three_runs / "mnist" / C, three_runs / "mnist" / "20261125-090000-0a0b")
        scans = screen.scans_shown
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.scans_shown > scans)
        assert table.rebuilds == built + 1 and table.row_count == 4  # a new run: rebuilt once
