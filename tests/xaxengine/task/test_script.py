"""``xax.Script`` tasks: no training loop, a run dir with status events, started from TOML or ``python -m``."""

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import BIN, REPO, engine_env, run_engine
from xaxengine.protocol import read_events

TOML = "tests/fixtures/tasks/script.toml"


def statuses(run_dir: Path) -> list[tuple[str, str | None]]:
    return [(e["state"], e["reason"]) for e in read_events(run_dir / "events.jsonl") if e["kind"] == "status"]


def test_run_toml_writes_a_finished_run_that_ls_lists(runs_dir):
    proc = run_engine("run", TOML, "count=3", "--runs-dir", str(runs_dir), "--run-id", "s")
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "count_script" / "s"
    assert statuses(run_dir) == [("starting", None), ("running", None), ("finished", None)]
    evs = list(read_events(run_dir / "events.jsonl"))
    assert [e["values"]["value"] for e in evs if e["kind"] == "scalars"] == [0.0, 1.0, 4.0]
    start = next(e for e in evs if e["kind"] == "run_start")
    assert start["task"] == "tests.fixtures.tasks.script_task:CountScript" and start["config"]["count"] == 3
    assert (run_dir / "artifacts" / "done.txt").read_text() == "3\n"
    assert 'task = "tests.fixtures.tasks.script_task:CountScript"' in (run_dir / "config.toml").read_text()
    listed = json.loads(run_engine("ls", "--json", "--runs-dir", str(runs_dir)).stdout)
    assert [(r["run_id"], r["state"]) for r in listed] == [("s", "finished")]


def test_a_failing_script_ends_failed_in_one_line(runs_dir):
    proc = run_engine("run", TOML, "fail_at=1", "--runs-dir", str(runs_dir), "--run-id", "f")
    run_dir = runs_dir / "count_script" / "f"
    assert proc.returncode == 1
    assert statuses(run_dir)[-1] == ("failed", "ValueError: failed at 1")
    assert proc.stderr.strip().splitlines()[-1].startswith("xaxengine: error: script failed: ValueError: failed at 1")
    assert "Traceback" not in proc.stderr and "Traceback" in (run_dir / "stdout.log").read_text()


def test_python_m_module_runs_the_script_from_its_defaults(runs_dir):
    argv = [sys.executable, "-m", "tests.fixtures.tasks.script_task", "count=2", "logger.progress=off"]
    proc = subprocess.run([*argv, "--runs-dir", str(runs_dir), "--run-id", "m"], cwd=REPO, env=engine_env(),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "count_script" / "m"
    assert statuses(run_dir)[-1] == ("finished", None)
    start = next(e for e in read_events(run_dir / "events.jsonl") if e["kind"] == "run_start")
    assert start["task"] == "tests.fixtures.tasks.script_task:CountScript"  # the module, not __main__


def test_stop_interrupts_a_running_script(runs_dir):
    cmd = [str(BIN / "xaxengine"), "run", TOML, "wait=true", "--runs-dir", str(runs_dir), "--run-id", "w"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run_dir = runs_dir / "count_script" / "w"
    deadline = time.monotonic() + 120
    while not (run_dir / "artifacts" / "done.txt").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    assert run_engine("stop", str(run_dir)).returncode == 0
    assert proc.wait(timeout=60) == 143
    assert statuses(run_dir)[-1] == ("interrupted", "signal 15")
