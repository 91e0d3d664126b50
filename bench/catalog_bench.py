"""Run catalogue: how long one ``read_run_info`` takes on events files of growing size, and ``list_runs`` over many.

Each file is written with the engine's own writer: a ``run_start`` with a 2 KB config, then train ``scalars`` and
``stats`` pairs; half the files end in ``status: finished``, the others end without one (``dead``: their last
status, ``running``, is at the start of the file, the worst case for the backward scan, which reads up to its bound).
Every run dir has the lock file an engine leaves. No jax.

Results: bench/results/catalog.json.

    python bench/catalog_bench.py [--sizes-mib 1 16 128] [--runs 200]
"""

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xaxengine.catalog import MAX_SCAN_BYTES, list_runs, read_run_info  # noqa: E402
from xaxengine.event_file import EventFile  # noqa: E402
from xaxengine.protocol import EventWriter  # noqa: E402
from xaxengine.runs import RunLock  # noqa: E402


def write_run(run_dir: Path, size_bytes: int, finished: bool) -> int:
    """Writes a run dir whose events file is about ``size_bytes`` long; returns its size."""
    run_dir.mkdir(parents=True)
    lock = RunLock(run_dir)  # a finished engine leaves its (unheld) lock file; a live one holds it
    lock.acquire()
    lock.release()
    with EventFile(run_dir / "events.jsonl") as f:
        writer = EventWriter([], files=[f])
        writer.emit("status", state="starting", reason=None, step=0)
        writer.emit("run_start", run_id=run_dir.name, task="tasks.mnist:MnistTask", config={"x": "y" * 2000}, pid=1)
        writer.emit("status", state="running", reason=None, step=0)
        step = 0
        while (run_dir / "events.jsonl").stat().st_size < size_bytes:
            for _ in range(1000):
                step += 1
                writer.emit("scalars", step=step, phase="train", values={"loss": 1.0 / step}, samples_per_s=1e4)
                writer.emit("stats", cpu_percent=50.0, rss_bytes=1e9, gpus=[], process=0)
        if finished:
            writer.emit("status", state="finished", reason=None, step=step)
    return (run_dir / "events.jsonl").stat().st_size


def timed(fn, repeats: int = 7) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Writes the files, times the reader, writes the JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[1, 16, 128])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for mib in args.sizes_mib:
            for finished in (True, False):
                run_dir = root / "single" / f"{mib}-{finished}"
                size = write_run(run_dir, mib << 20, finished)
                info = read_run_info(run_dir)
                assert info is not None and info.task == "tasks.mnist:MnistTask"
                seconds = timed(lambda d=run_dir: read_run_info(d))
                rows.append({"size_bytes": size, "finished": finished, "state": info.state, "read_s": seconds})
                print(f"{size / 2**20:8.1f} MiB finished={finished!s:5} state={info.state:9} {1e3 * seconds:8.2f} ms")
        many = root / "many"
        for i in range(args.runs):
            write_run(many / "mnist" / f"run-{i:04d}", 200_000, finished=i % 2 == 0)
        list_s = timed(lambda: list_runs(many), repeats=5)
        print(f"list_runs over {args.runs} runs of 200 KB: {1e3 * list_s:.1f} ms")
    result = {
        "bench": "catalog",
        "max_scan_bytes": MAX_SCAN_BYTES,
        "read_run_info": rows,
        "list_runs": {"runs": args.runs, "run_bytes": 200_000, "seconds": list_s},
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = REPO / "bench" / "results" / "catalog.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
