"""Runs generated for the compare and overview tests: copies of the recorded runs with changed configs, a failed run.

Written next to a test's temp dir from the recorded events (see :mod:`tests.xaxtui.conftest`); nothing here writes
the fixtures themselves.
"""

import json
from pathlib import Path

from tests.xaxtui.conftest import RUN_B

FAILED_ID = "20261125-090000-dead"


def copy_run(runs_dir: Path, source: Path, run_id: str, **changes: object) -> Path:
    """A copy of a recorded run under ``runs_dir/mnist/run_id`` whose ``run_start`` config has ``changes`` (dotted)."""
    run_dir = runs_dir / "mnist" / run_id
    run_dir.mkdir(parents=True)
    out = []
    for line in (source / "events.jsonl").read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # the recording keeps a garbage line: so does the copy
            out.append(line)
            continue
        if event["kind"] == "run_start":
            event["run_id"] = run_id
            for dotted, value in changes.items():
                *parents, leaf = dotted.split(".")
                table = event["config"]
                for name in parents:
                    table = table[name]
                table[leaf] = value
        out.append(json.dumps(event, separators=(",", ":")))
    (run_dir / "events.jsonl").write_text("\n".join(out) + "\n")
    return run_dir


def failed_run(runs_dir: Path, stdout: str | None, run_id: str = FAILED_ID) -> Path:
    """The first 40 events of the second recorded run, then ``failed`` at step 3; ``stdout.log`` holds ``stdout``."""
    run_dir = runs_dir / "mnist" / run_id
    run_dir.mkdir(parents=True)
    lines = []
    for line in (RUN_B / "events.jsonl").read_text().splitlines()[:40]:
        event = json.loads(line)
        if event["kind"] == "run_start":
            event["run_id"] = run_id
            event["git"] = {"commit": "0123456789abcdef0123", "dirty": True}
            event["versions"] = {"python": "3.12.1", "jax": "0.12.1"}
        lines.append(event)
    last = lines[-1]
    fail = {"v": 1, "seq": last["seq"] + 1, "t": last["t"], "kind": "status", "state": "failed"}
    lines.append({**fail, "reason": "ValueError: boom", "step": 3})
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    if stdout is not None:
        (run_dir / "stdout.log").write_text(stdout)
    return run_dir
