"""Runs each machine fault of the faults issue against the real engine and prints a table case -> outcome.

Needs root with CAP_SYS_ADMIN (tmpfs mounts) and ``setpriv``; writes ``bench/results/faults.json``. Every case must
end in exit 0 or a one-line error with the right exit code, a final status in the file where the disk allows, no
``checkpoint`` event for a save that did not finish, and (for the disk cases) a resume equal to the reference run.

    python bench/faults.py [--stop-trials 50] [--double-trials 20]
"""

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.faults import FAST, can_mount, engine, resize, run_digits, tmpfs  # noqa: E402
from tests.xaxengine.task.test_trainer_stop import start_stoppable, stop_latency, wait_for_step  # noqa: E402
from xaxengine.protocol import Kind  # noqa: E402

CKPT = ["hidden=256", "train.max_steps=600", "train.log_every_n_steps=50", "train.valid_every_n_steps=0"]
CKPT += ["checkpoint.save_every_n_steps=100", "checkpoint.max_to_keep=10"]


def errors(lines: list[str]) -> int:
    return sum("error" in line.lower() or "Traceback" in line for line in lines)


def disk_full_checkpoint(tmp: Path) -> dict:
    reference = run_digits(tmp / "ref", "ref", *CKPT)
    with tmpfs("2560k") as disk:  # two ~1 MB checkpoints and room for events; a third save fills it
        full = run_digits(disk / "runs", "full", *CKPT)
        saved = [e["step"] for e in full.kinds(Kind.CHECKPOINT)]
        failed = [e["step"] for e in full.kinds(Kind.CHECKPOINT_FAILED)]
        resize(disk, "64m")
        resumed = run_digits(disk / "runs", "full", resume=True)
    good = max(saved) if saved else 0
    same = {s: v for s, v in resumed.train_losses().items() if s > good} == {
        s: v for s, v in reference.train_losses().items() if s > good
    }
    return {
        "exit": full.returncode,
        "error_lines": errors(full.stderr_lines),
        "final": full.final_status and full.final_status["state"],
        "checkpoint_event_for_failed_save": bool(set(saved) & set(failed)),
        "resume_equal": same and resumed.returncode == 0,
    }


def disk_full_events(tmp: Path) -> dict:
    del tmp
    with tmpfs("200k") as disk:
        out = run_digits(disk / "runs", "ev", "train.max_steps=5000", "train.log_every_n_steps=1")
        resize(disk, "64m")
        resumed = run_digits(disk / "runs", "ev", "train.max_steps=20", resume=True)
        lines = (disk / "runs/mnist/ev/events.jsonl").read_bytes().split(b"\n")
    return {
        "exit": out.returncode,
        "error_lines": errors(out.stderr_lines),
        "resume_exit": resumed.returncode,
        "garbage_lines_after_resume": sum(1 for line in lines[:-1] if not line.startswith(b"{")),
    }


def refused(*args: str) -> dict:
    done = engine("run", "tasks/mnist.toml", *FAST, *args)
    return {"exit": done.returncode, "stderr_lines": len(done.stderr.strip().splitlines())}


def read_only_runs_dir(tmp: Path) -> dict:
    del tmp
    with tmpfs("64k", read_only=True) as disk:
        return refused("--runs-dir", str(disk / "runs"))


def file_runs_dir(tmp: Path) -> dict:
    (tmp / "afile").write_text("")
    return refused("--runs-dir", str(tmp / "afile"))


def deep_toml(tmp: Path) -> dict:
    deep = tmp / "deep.toml"
    deep.write_text("[" + ".".join(["a"] * 2000) + "]\nx = 1\n")
    done = engine("run", str(deep))
    return {"exit": done.returncode, "stderr_lines": len(done.stderr.strip().splitlines())}


def bad_numbers(tmp: Path) -> dict:
    cases = [
        "data.batch_size=0",
        "data.batch_size=-5",
        "train.max_steps=-1",
        "train.max_steps=100000000000000000000000",
    ]
    cases += ["launch.num_devices=64", "launch.num_devices=-1"]
    out = {}
    for case in cases:
        result = refused(case, "--runs-dir", str(tmp / "runs"))
        result["run_dirs"] = len(list((tmp / "runs").glob("*/*"))) if (tmp / "runs").exists() else 0
        out[case] = result
    return out


def stop_latencies(tmp: Path, trials: int) -> dict:
    latencies = [
        stop_latency(tmp, f"s{i}", 40 + 13 * i, "hidden=1024", "depth=3")  # the default queue
        for i in range(trials)
    ]
    return {"trials": trials, "max": max(latencies), "latencies": latencies}


def double_signals(tmp: Path, trials: int) -> dict:
    outcomes = []
    for i in range(trials):
        proc, progress, run_dir = start_stoppable(tmp, f"d{i}", "hidden=1024", "depth=3")
        wait_for_step(proc, progress, 30)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=180)
        events = (run_dir / "events.jsonl").read_text()
        outcomes.append(proc.returncode == 143 and '"interrupted"' not in events)
    return {"trials": trials, "exited_at_once": sum(outcomes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stop-trials", type=int, default=50)
    parser.add_argument("--double-trials", type=int, default=20)
    args = parser.parse_args()
    if not can_mount():
        raise SystemExit("bench/faults.py needs root with CAP_SYS_ADMIN (tmpfs mounts)")
    cases = {
        "1 disk full during a checkpoint save": disk_full_checkpoint,
        "2 disk full during an event write": disk_full_events,
        "3a runs dir on a read-only mount": read_only_runs_dir,
        "3b runs dir is a file": file_runs_dir,
        "3c 2000-level nested TOML": deep_toml,
        "4 numbers that passed validation before": bad_numbers,
        "6a stop latency (steps after the executing one)": lambda t: stop_latencies(t, args.stop_trials),
        "6b two SIGTERMs 50 ms apart": lambda t: double_signals(t, args.double_trials),
    }
    results = {}
    for name, case in cases.items():
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            results[name] = {**case(Path(folder)), "seconds": round(time.perf_counter() - start, 1)}
        print(f"{name:<50} {json.dumps(results[name])[:200]}", flush=True)
    out = ROOT / "bench" / "results" / "faults.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
