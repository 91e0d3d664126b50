"""Out of core: train the benchmark MLP from a >= 4 GB dataset on disk and measure the whole tree's peak RSS.

Two source kinds, one file at a time in ``--dir`` (``/tmp``; refused in one line when the disk lacks room): ``arrow``,
a memory-mapped ``datasets.Dataset`` (``Dataset.from_file``), and ``records``, fixed-size binary rows read with
``os.pread`` by a ``__len__`` / ``__getitem__`` source (``bench/ondisk_task.py``). For each, the engine runs once
per worker count in a fresh subprocess while the bench samples the memory of that process and all its descendants
(Grain workers) from /proc every 50 ms (``bench/tree_memory.py``: VmRSS split into RssAnon / RssFile / RssShmem,
and PSS). ``data.host_max_bytes = 1 GiB`` sends the Arrow file through the Grain path (rows read per batch); the
default (8 GiB) would load a 4 GB set whole, as the fast path for data that fits. The files are deleted at the end,
also on failure. Results: bench/results/data_ondisk.json (target: peak whole-tree RSS < 1.5 GB).

A memory-mapped file's pages count in RSS once touched (RssFile: clean page cache mapped into the process,
dropped at once by the kernel under pressure or by ``madvise(MADV_DONTNEED)``, not memory the process allocated).
Random rows of a mapping touch far more than the rows: each fault maps the whole page-cache folio around it.

    python bench/data_ondisk.py [--gb 4.2] [--steps 300] [--workers 0,2] [--sources arrow,records] [--dir /tmp]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.machine import machine  # noqa: E402
from bench.tree_memory import TreeMemory  # noqa: E402

HOST_MAX_BYTES = 2**30
TARGET_MB = 1500.0
LOG_EVERY = 50


def run_engine(path: str, kind: str, steps: int, workers: int, runs: str) -> None:
    """The engine on the file (``OnDiskTask``), in this process; the driver reads its events afterwards."""
    from bench.ondisk_task import OnDiskConfig, OnDiskTask
    from xaxengine.config import build_config
    from xaxengine.launch_config import RunOptions

    config = build_config(
        OnDiskConfig,
        {
            "path": path,
            "kind": kind,
            "train": {"max_steps": steps, "log_every_n_steps": LOG_EVERY, "valid_every_n_steps": 0, "seed": 0},
            "data": {"batch_size": 128, "num_workers": workers, "host_max_bytes": HOST_MAX_BYTES},
            "checkpoint": {"save_every_n_steps": 0},
            "logger": {"tensorboard": False, "progress": "plain"},
            "artifacts": {"runs_dir": runs, "run_id": "ondisk"},
        },
    )
    sys.exit(OnDiskTask.launch(config, RunOptions()))


def measure(path: Path, kind: str, steps: int, workers: int) -> dict[str, Any]:
    """One engine run in a subprocess, its tree's memory sampled until it exits; its rate and data path."""
    import psutil

    from xaxengine.protocol import read_events

    runs = tempfile.mkdtemp(prefix="xax-bench-ondisk-")
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, __file__, "--worker", str(path), "--kind", kind, "--steps", str(steps)]
    cmd += ["--workers", str(workers)]
    t0 = time.time()
    log = Path(runs) / "stderr.log"
    with log.open("w") as err:
        proc = psutil.Popen([*cmd, "--runs", runs], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        memory = TreeMemory(proc.pid)
        code = memory.watch(proc)
    stderr = log.read_text(errors="replace")
    events = list(read_events(next(Path(runs).glob("*/ondisk/events.jsonl"))))
    shutil.rmtree(runs, ignore_errors=True)
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    paths = sorted({e["data"]["path"] for e in events if e["kind"] == "stats" and e.get("data")})
    result: dict[str, Any] = {
        "source": kind,
        "num_workers": workers,
        "exit_code": code,
        "wall_s": time.time() - t0,
        "steps": train[-1]["step"] if train else 0,
        "steps_per_s": (train[-1]["step"] - train[0]["step"]) / (train[-1]["t"] - train[0]["t"]) if train else None,
        "final_loss": train[-1]["values"]["loss"] if train else None,
        "data_path": paths,
        **memory.summary(),
    }
    result["under_target"] = result["peak_tree_rss_mb"] < TARGET_MB
    parts = result["peak_tree_rss_parts_mb"]
    result["private_mb_at_peak"] = parts.get("RssAnon", 0.0) + parts.get("RssShmem", 0.0)
    result["mapped_file_share_at_peak"] = parts.get("RssFile", 0.0) / max(result["peak_tree_rss_mb"], 1e-9)
    if code != 0:
        result["stderr_tail"] = stderr.splitlines()[-5:]
    sys.stderr.write(
        f"{kind} workers={workers}: {json.dumps({k: v for k, v in result.items() if 'by_process' not in k})}\n"
    )
    return result


def main() -> None:
    """Checks the disk, writes the file, runs every worker count, deletes the file, writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=4.2, help="dataset size in GB (10**9 bytes)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", default="0,2")
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--sources", default="arrow,records")
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--runs", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "data_ondisk.json"))
    args = parser.parse_args()
    if args.worker:
        run_engine(args.worker, args.kind, args.steps, int(args.workers), args.runs)
        return
    from bench.ondisk_task import RECORD, write

    rows = int(args.gb * 1e9 / RECORD.itemsize)
    free = shutil.disk_usage(args.dir).free
    if free < rows * RECORD.itemsize + 2e9:
        sys.exit(f"data_ondisk: {args.dir} has {free / 1e9:.1f} GB free; the {args.gb} GB dataset needs 2 GB more")
    start, before = time.time(), machine()
    workdir = Path(tempfile.mkdtemp(prefix="xax-ondisk-", dir=args.dir))
    datasets, runs = {}, []
    try:
        for kind in args.sources.split(","):  # one file at a time: the disk holds one dataset
            path, t0 = workdir / f"train.{kind}", time.time()
            size = write(path, rows, kind)
            datasets[kind] = {"rows": rows, "bytes": size, "gb": size / 1e9, "write_s": time.time() - t0}
            runs += [measure(path, kind, args.steps, int(w)) for w in args.workers.split(",")]
            path.unlink()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "datasets": datasets,
        "columns": "x: 784 float32, y: int32",
        "engine": {"host_max_bytes": HOST_MAX_BYTES, "batch_size": 128, "model": "MLP 784-512-512-10, Adam"},
        "target_peak_tree_rss_mb": TARGET_MB,
        "memory_source": "/proc/PID/status VmRSS (+RssAnon/RssFile/RssShmem, VmHWM) and smaps_rollup Pss, summed "
        "over the engine process and all its descendants every 50 ms (Pss every 500 ms)",
        "runs": runs,
        "deleted": not workdir.exists(),
        "machine_before": before,
        "machine_after": machine(),
        "seconds": time.time() - start,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    keys = ("source", "num_workers", "exit_code", "steps", "peak_tree_rss_mb", "private_mb_at_peak", "under_target")
    summary = {"datasets": datasets, "runs": [{k: r[k] for k in keys} for r in runs]}
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
