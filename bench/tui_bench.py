"""xax-tui benchmarks: first paint, loading 1M events, redrawing a 100k-point chart, live event-to-screen latency,
the picker's scan of 1,000 run dirs and the media pane's render of logged images.

The 1M-event load and the chart redraw also run the code of :data:`BASELINE` (the commit whose numbers the TUI
issue quotes), checked out in a temporary git worktree and interleaved process by process with this tree's: the
``baseline`` entries and ``now_over_baseline`` ratios compare code, not this machine's speed on two days.

Writes ``bench/results/tui_bench.json`` (medians of several runs). Run: ``.venv/bin/python bench/tui_bench.py``
(``--short``: fewer repeats; ``--only picker media``: some rows only, printed, the JSON left alone).
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUNS = ROOT / "tests" / "fixtures" / "recorded_runs"
TASK = ROOT / "tests" / "fixtures" / "tasks" / "tiny.toml"
FAKE = ROOT / "tests" / "fixtures" / "fake_engine.py"
OUT = ROOT / "bench" / "results" / "tui_bench.json"
# the commit whose numbers the TUI issue quotes as today (1M events 1.81 s then, on that day's machine)
BASELINE = "0c3d665"


def write_events(path: Path, n: int) -> None:
    from xaxengine.protocol import encode, make_event

    t0 = 1764050000.0
    with open(path, "wb") as f:
        f.write(encode(make_event(0, "run_start", t=t0, run_id="bench", task="bench:Task", max_steps=n)))
        buf = []
        for i in range(1, n):
            t = t0 + i * 0.01
            if i % 100 == 0:
                ev = make_event(i, "stats", t=t, cpu_percent=50.0, rss_bytes=1e9, mem_percent=3.0, gpus=[])
            else:
                values = {"loss": 1.0 / (1 + i * 1e-3), "accuracy": 0.5}
                ev = make_event(
                    i,
                    "scalars",
                    t=t,
                    step=i,
                    phase="train",
                    values=values,
                    samples_per_s=1000.0,
                    steps_per_s=100.0,
                    elapsed_s=i * 0.01,
                )
            buf.append(encode(ev))
            if len(buf) >= 10_000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))


LOAD_CODE = """
import asyncio, json, resource, sys, time
from xaxtui.sources import FileTailSource
from xaxtui.state import RunState, fold
async def main():
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    state = RunState()
    fold_wall = fold_cpu = 0.0
    cpu = time.process_time()
    t = time.perf_counter()
    async for batch in FileTailSource(sys.argv[1], follow=False):
        t1, c1 = time.perf_counter(), time.process_time()
        fold(state, batch.events)
        fold_wall += time.perf_counter() - t1
        fold_cpu += time.process_time() - c1
    elapsed = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "cpu_seconds": time.process_time() - cpu, "fold_seconds": fold_wall,
                      "fold_cpu_seconds": fold_cpu, "events": state.events, "peak_rss_mb": peak / 1024,
                      "added_rss_mb": (peak - base) / 1024, "points_kept": len(state.series["loss", "train"])}))
asyncio.run(main())
"""


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def _run_code(code: str, code_root: Path, *args: object) -> dict:
    """Runs a bench snippet in a fresh process with the xaxtui/xaxengine of ``code_root`` (a checkout); its JSON."""
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        cwd=code_root,
        env=env,
    )
    return json.loads(out.stdout)


@contextlib.contextmanager
def _baseline_checkout(ref: str | None, where: Path) -> Iterator[Path | None]:
    """``ref`` checked out at ``where`` (a detached git worktree, removed after); None when git cannot (no commit)."""
    if ref is None:
        yield None
        return
    made = subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), ref], check=False, cwd=ROOT, capture_output=True
    )
    if made.returncode != 0:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False)


def bench_load(n: int, repeats: int, baseline: str | None = BASELINE) -> dict:
    """Loads a generated file ``repeats`` times, interleaved with the same load by the code at ``baseline``.

    The baseline (default: the commit whose numbers the TUI issue quotes) runs from a temporary git worktree, so the
    ratio compares code on one machine in one run, whatever that machine's speed today.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        write_events(path, n)
        size_mb = path.stat().st_size / 1e6
        runs, old_runs, loads = [], [], []
        with _baseline_checkout(baseline, Path(tmp) / "baseline") as old_root:
            for _ in range(repeats):
                loads.append(load_average()[0])
                runs.append(_run_code(LOAD_CODE, ROOT, path))
                if old_root is not None:
                    old_runs.append(_run_code(LOAD_CODE, old_root, path))
    result = {
        "what": "decode (source thread) + fold of a 1M-event events.jsonl; cpu = CPU time of the process",
        "events": n,
        "file_mb": round(size_mb, 1),
        "seconds_median": statistics.median(r["seconds"] for r in runs),
        "seconds_all": [round(r["seconds"], 3) for r in runs],
        "cpu_seconds_median": statistics.median(r["cpu_seconds"] for r in runs),
        "fold_seconds_median": statistics.median(r["fold_seconds"] for r in runs),
        "fold_cpu_seconds_median": statistics.median(r["fold_cpu_seconds"] for r in runs),
        "load_1min_before_each": loads,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "points_kept_of_990k": runs[0]["points_kept"],
        "target_s": 2.0,
    }
    if old_runs:
        old = statistics.median(r["seconds"] for r in old_runs)
        result["baseline"] = {
            "commit": baseline,
            "seconds_median": old,
            "seconds_all": [round(r["seconds"], 3) for r in old_runs],
            "now_over_baseline": result["seconds_median"] / old,
        }
    return result


def bench_first_paint(repeats: int) -> dict:
    if shutil.which("tmux") is None:
        return {"skipped": "tmux missing"}
    xax_tui = Path(sys.executable).parent / "xax-tui"
    times = []
    for i in range(repeats):
        session = f"xaxbench{os.getpid()}{i}"
        t = time.perf_counter()
        subprocess.run(["tmux", "new", "-d", "-s", session, "-x", "100", "-y", "30", f"{xax_tui} {RUNS}"], check=True)
        try:
            while (
                "2 runs"
                not in subprocess.run(
                    ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
                ).stdout
            ):
                if time.perf_counter() - t > 20:
                    raise RuntimeError("no paint")
                time.sleep(0.005)
            times.append(time.perf_counter() - t)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
    return {
        "what": "tmux start to picker listing runs (100x30)",
        "seconds_median": statistics.median(times),
        "seconds_all": [round(x, 3) for x in times],
    }


CHART_CODE = """
import asyncio, json, statistics, sys, time
from textual.app import App, ComposeResult
from xaxengine.protocol import make_event
from xaxtui.state import RunState, fold
from xaxtui.widgets.charts import ChartOptions, MetricChart
n, repeats = int(sys.argv[1]), int(sys.argv[2])
async def main():
    results = {}
    for recent, name in ((n * 2, "raw_100k_points"), (4096, "bounded_state")):
        events = (make_event(i, "scalars", t=1000.0 + i, step=i, phase="train", values={"loss": 1 / (1 + i)})
                  for i in range(n))
        state = fold(RunState(recent=recent), events)
        class ChartApp(App[None]):
            def compose(self) -> ComposeResult:
                yield MetricChart("loss")
        app = ChartApp()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.1)
            chart = app.query_one(MetricChart)
            times = []
            for smoothing in [0.0] * repeats + [0.9] * repeats:
                t = time.perf_counter()
                chart.draw([("bench", state)], ChartOptions(smoothing=smoothing))
                chart._render_plot()
                times.append(time.perf_counter() - t)
        results[name] = {"series_len": len(state.series["loss", "train"]),
                         "ms_median_raw": statistics.median(times[:repeats]) * 1e3,
                         "ms_median_ema": statistics.median(times[repeats:]) * 1e3}
    print(json.dumps(results))
asyncio.run(main())
"""


def bench_chart(n: int, repeats: int, baseline: str | None = BASELINE) -> dict:
    """Redraws of a 100k-point chart (raw and bounded state), in processes alternating with the baseline's code."""
    now, old = [], []
    with tempfile.TemporaryDirectory() as tmp, _baseline_checkout(baseline, Path(tmp) / "baseline") as old_root:
        for _ in range(3):
            now.append(_run_code(CHART_CODE, ROOT, n, repeats))
            if old_root is not None:
                old.append(_run_code(CHART_CODE, old_root, n, repeats))

    def medians(runs: list[dict]) -> dict:
        return {
            name: {
                "series_len": runs[0][name]["series_len"],
                **{k: statistics.median(r[name][k] for r in runs) for k in ("ms_median_raw", "ms_median_ema")},
            }
            for name in runs[0]
        }

    result = {"points": n, "processes": len(now), **medians(now), "target_ms": 50}
    if old:
        base = medians(old)
        result["baseline"] = {"commit": baseline, **base}
        result["now_over_baseline_raw_100k"] = (
            result["raw_100k_points"]["ms_median_raw"] / base["raw_100k_points"]["ms_median_raw"]
        )
    return result


async def bench_latency(samples: int) -> dict:
    os.environ["XAX_ENGINE_CMD"] = f"{sys.executable} {FAKE}"
    os.environ["FAKE_STEP_S"] = "0.01"
    from xaxtui.app import XaxTui
    from xaxtui.widgets.header import RunHeader

    lat = []
    with tempfile.TemporaryDirectory() as tmp:
        app = XaxTui(TASK, runs_dir=Path(tmp))
        async with app.run_test(size=(100, 32)) as pilot:
            session = app.launch(TASK, ["train.max_steps=100000", "train.log_every_n_steps=20"], Path(tmp))
            shown = -1
            deadline = time.monotonic() + 60
            while len(lat) < samples and time.monotonic() < deadline:
                await pilot.pause(0.002)
                text = str(app.screen.query_one(RunHeader).render())
                match = re.search(r"step (\d+)/", text)
                if not match or int(match.group(1)) == shown:
                    continue
                shown = int(match.group(1))
                series = session.state.series.get(("loss", "train"))
                if series and shown in series.steps:
                    lat.append(time.time() - series.times[series.steps.index(shown)])
            session.signal(15)
            await pilot.pause(0.5)
    lat = lat[3:]
    return {
        "what": "engine event wall time -> run header shows its step (fake engine, 10 ms steps)",
        "ms_median": statistics.median(lat) * 1e3,
        "ms_p90": sorted(lat)[int(0.9 * len(lat))] * 1e3,
        "samples": len(lat),
        "target_ms": 250,
    }


def main() -> None:
    from bench.tui_bench_rows import bench_media, bench_picker

    parser = argparse.ArgumentParser()
    parser.add_argument("--short", action="store_true", help="3 repeats instead of 5 (7 for the new rows)")
    parser.add_argument("--only", nargs="+", choices=sorted(ROWS), help="run these rows only; the JSON is not written")
    args = parser.parse_args()
    repeats = 3 if args.short else 5
    rows = {
        "first_paint": lambda: bench_first_paint(repeats),
        "load_1m_events": lambda: bench_load(1_000_000, repeats),
        "chart_redraw": lambda: bench_chart(100_000, repeats),
        "live_latency": lambda: asyncio.run(bench_latency(40)),
        "picker_scan_1000_runs": lambda: bench_picker(1000, repeats),
        "media_pane": lambda: asyncio.run(bench_media(repeats + 2)),
    }
    chosen = args.only or list(rows)
    results: dict = {
        "machine": f"{os.cpu_count()} shared cpus, python {sys.version.split()[0]}",
        "repeats": repeats,
        "load_average_start": load_average(),
    }
    for name in chosen:
        results[name] = rows[name]()
        print(name, json.dumps(results[name]), flush=True)
    results["load_average_end"] = load_average()
    if args.only is None:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


ROWS = ("first_paint", "load_1m_events", "chart_redraw", "live_latency", "picker_scan_1000_runs", "media_pane")


if __name__ == "__main__":
    main()
