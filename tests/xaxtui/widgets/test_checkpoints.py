"""The checkpoint table gives sizes in the unit the engine's log uses."""

import io
import json
import logging
import re
from pathlib import Path

import pytest

from tests.xaxtui.conftest import wait_for
from xaxengine.task.loggers.stdout import StdoutBackend
from xaxtui.app import XaxTui
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.checkpoints import CheckpointTable


async def test_table_size_reads_as_the_engine_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    checkpoint = {"kind": "checkpoint", "step": 10, "path": "ckpt/10", "bytes": 1_700_000, "save_s": 0.5, "kept": [10]}
    with caplog.at_level(logging.INFO):
        StdoutBackend(io.StringIO(), None, use_progress_bar=False).write(checkpoint)
    match = re.search(r"\((\d+\.\d) (MB),", caplog.text)
    assert match, caplog.text
    run_dir = tmp_path / "mnist" / "20261201-000000-ab12"
    run_dir.mkdir(parents=True)
    events = [
        {"kind": "run_start", "run_id": run_dir.name, "task": "t:T", "run_dir": str(run_dir), "config": {}},
        checkpoint,
        {"kind": "status", "state": "finished", "reason": None, "step": 10},
    ]
    lines = [json.dumps({"v": 1, "seq": seq, "t": 1764547200.0} | ev) for seq, ev in enumerate(events)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    app = XaxTui(run_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.drawn.is_set())
        table = app.screen.query_one(CheckpointTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        assert table.get_row_at(0)[2] == f"{match.group(1)} {match.group(2)}"
