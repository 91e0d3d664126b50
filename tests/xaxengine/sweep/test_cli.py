"""``sweep ls`` on a sweep folder whose ``status.json`` is not the driver's object (the TUI reads it the same way)."""

from pathlib import Path

import pytest

from xaxengine.sweep.cli import sweep_summary


@pytest.mark.parametrize("text", ["[1, 2]", '"running"', "{not json", None])
def test_a_garbled_or_missing_status_lists_the_sweep_as_created(tmp_path: Path, text: str | None):
    sweep_dir = tmp_path / "sweeps" / "tiny-20261201-120000-0001"
    sweep_dir.mkdir(parents=True)
    if text is not None:
        (sweep_dir / "status.json").write_text(text)
    summary = sweep_summary(sweep_dir)
    assert summary["state"] == "created" and summary["done"] == 0 and summary["best_value"] is None
