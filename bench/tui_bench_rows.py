"""Two rows of ``bench/tui_bench.py``: the picker's scan of 1,000 run dirs, and the media pane's render of images.

The run dirs are written as the engine leaves them (``config.toml``, ``events.jsonl`` with a ``run_start`` carrying a
resolved config, train and valid ``scalars``, ``stats``, a checkpoint, a final status; one in ten ends without one and
has no live engine, ``dead``). The media run logs a 256x256 sample grid (a real PNG) at each of 50 steps, text samples
and histograms.
"""

import asyncio
import io
import statistics
import tempfile
import time
from pathlib import Path

T0 = 1764050000.0


def write_run_dirs(root: Path, n: int) -> None:
    """``n`` finished (and some dead) runs of two tasks under ``root``, their configs differing in lr and width."""
    import tomli_w

    from xaxengine.protocol import encode, make_event

    for i in range(n):
        task = "mnist" if i % 3 else "digits"
        run_id = f"20261201-{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}-{i:04x}"
        run_dir = root / task / run_id
        run_dir.mkdir(parents=True)
        config = {
            "task": {"hidden": 64 * (1 + i % 4), "depth": 2},
            "optimizer": {"kind": "adamw", "lr": [1e-3, 3e-4, 1e-4][i % 3], "weight_decay": 0.0},
            "train": {"batch_size": 128, "max_steps": 200, "log_every_n_steps": 10, "seed": i},
            "data": {"num_workers": 0, "prefetch": 2},
        }
        (run_dir / "config.toml").write_text(tomli_w.dumps(config))
        t = T0 + 60.0 * i
        events = [
            make_event(0, "run_start", t=t, run_id=run_id, task=f"tasks.{task}:Task", config=config, max_steps=200)
            | {"layout": "single_device", "devices": ["cpu:0"], "host": "bench", "pid": 1, "git": None},
            make_event(1, "status", t=t, state="running", reason=None, step=0),
        ]
        for step in range(10, 201, 10):
            values = {"loss": 1.0 / step, "accuracy": 1 - 1.0 / step}
            events.append(make_event(len(events), "scalars", t=t + step, step=step, phase="train", values=values))
            if step % 50 == 0:
                events.append(make_event(len(events), "scalars", t=t + step, step=step, phase="valid", values=values))
                events.append(make_event(len(events), "stats", t=t + step, cpu_percent=50.0, rss_bytes=1e9, gpus=[]))
        events.append(make_event(len(events), "checkpoint", t=t + 200, step=200, path="checkpoints/200", bytes=1 << 20))
        if i % 10:
            events.append(make_event(len(events), "status", t=t + 201, state="finished", reason=None, step=200))
        (run_dir / "events.jsonl").write_bytes(b"".join(encode(ev) for ev in events))


def bench_picker(n: int, repeats: int) -> dict:
    """``scan_runs`` over ``n`` run dirs, and the picker from app start to its table listing all of them."""
    from xaxtui.catalog import scan_runs

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_run_dirs(root, n)
        scans = []
        for _ in range(repeats):
            start = time.perf_counter()
            found = scan_runs(root)
            scans.append(time.perf_counter() - start)
        assert len(found) == n, len(found)
        states = sorted({r.state for r in found})
        shown = [asyncio.run(_picker_rows_shown(root, n)) for _ in range(repeats)]
    return {
        "what": f"scan_runs over {n} run dirs (config.toml + events.jsonl of 28-30 events each); the picker from "
        "run_test start to its table listing all of them, measured and painted (120x40)",
        "runs": n,
        "states": states,
        "scan_s_median": statistics.median(scans),
        "scan_s_all": [round(x, 3) for x in scans],
        "picker_listed_s_median": statistics.median(shown),
        "picker_listed_s_all": [round(x, 3) for x in shown],
        "target_s": 1.0,
    }


async def _picker_rows_shown(root: Path, n: int) -> float:
    from xaxtui.app import XaxTui
    from xaxtui.widgets.runs import RunsTable

    start = time.perf_counter()
    app = XaxTui(root)
    async with app.run_test(size=(120, 40)) as pilot:
        while not (tables := app.screen.query(RunsTable)) or tables.first().row_count < n:
            if time.perf_counter() - start > 120:
                raise RuntimeError("the picker never listed the runs")
            await pilot.pause(0.01)
        await pilot.pause()  # the table measures its new rows and paints when next idle
        return time.perf_counter() - start


def write_media_run(run_dir: Path, steps: int = 50, side: int = 256) -> Path:
    """A finished run logging a ``side`` x ``side`` PNG sample grid, a text sample and a histogram at each step."""
    import numpy as np
    from PIL import Image

    from xaxengine.protocol import encode, make_event

    rng = np.random.default_rng(0)
    events = [
        make_event(0, "run_start", t=T0, run_id=run_dir.name, task="tasks.diffusion:Task", config={}, max_steps=steps),
        make_event(1, "status", t=T0, state="running", reason=None, step=0),
    ]
    for k in range(1, steps + 1):
        rel = f"artifacts/samples/{k:08d}.png"
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        cells = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)  # an 8x8 grid of samples, each a flat color + noise
        grid = np.kron(cells, np.ones((side // 8, side // 8, 1), dtype=np.uint8))
        grid = np.clip(grid.astype(int) + rng.integers(-30, 30, grid.shape), 0, 255).astype(np.uint8)
        Image.fromarray(grid).save(run_dir / rel)
        t = T0 + k
        events.append(make_event(len(events), "scalars", t=t, step=k, phase="train", values={"loss": 1.0 / k}))
        events.append(make_event(len(events), "image", t=t, step=k, name="samples", path=rel, width=side, height=side))
        events.append(make_event(len(events), "text", t=t, step=k, name="sample", text=f"ROMEO: step {k}\n" * 20))
        counts = rng.integers(0, 100, 16).tolist()
        events.append(
            make_event(len(events), "histogram", t=t, step=k, name="grads", bins=list(range(17)), counts=counts)
        )
    events.append(make_event(len(events), "status", t=T0 + steps + 1, state="finished", reason=None, step=steps))
    (run_dir / "events.jsonl").write_bytes(b"".join(encode(ev) for ev in events))
    return run_dir


async def bench_media(repeats: int) -> dict:
    """Opening the media pane on a run with 50 logged 256x256 images, paging a step, and one image's render alone."""
    from rich.console import Console
    from rich.segment import Segment

    from xaxtui.app import XaxTui
    from xaxtui.screens.media import MediaScreen
    from xaxtui.screens.run import RunScreen
    from xaxtui.widgets.media import image_renderable

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = write_media_run(Path(tmp) / "diffusion" / "20261201-120000-me01")
        opens, pages, renders = [], [], []
        app = XaxTui(run_dir)
        async with app.run_test(size=(120, 40)) as pilot:
            while not (isinstance(app.screen, RunScreen) and app.screen.session.state.finished):
                await pilot.pause(0.01)
            for _ in range(repeats):
                start = time.perf_counter()
                await pilot.press("i")
                while not (isinstance(app.screen, MediaScreen) and app.screen.shown is not None):
                    await pilot.pause(0.001)
                await pilot.pause()
                opens.append(time.perf_counter() - start)
                screen = app.screen
                for _ in range(repeats):
                    before = screen.shown
                    start = time.perf_counter()
                    await pilot.press("left")
                    while screen.shown == before:
                        await pilot.pause(0.001)
                    await pilot.pause()
                    pages.append(time.perf_counter() - start)
                await pilot.press("escape")
                while isinstance(app.screen, MediaScreen):
                    await pilot.pause(0.01)
            item = app.screen.session.state.media.tracks["image", "samples"].items[1]
        console = Console(width=116, height=33, color_system="truecolor", file=io.StringIO())
        for _ in range(repeats):
            start = time.perf_counter()
            lines = console.render_lines(image_renderable(run_dir, item, 116, 33), console.options)
            renders.append(time.perf_counter() - start)
    return {
        "what": "media pane (120x40) on a run with 50 steps of 256x256 PNG sample grids: 'i' until the newest image "
        "is shown and painted; left arrow to the previous step until shown; one image decoded and rendered as "
        "half-blocks alone",
        "open_ms_median": statistics.median(opens) * 1e3,
        "open_ms_all": [round(x * 1e3, 1) for x in opens],
        "step_ms_median": statistics.median(pages) * 1e3,
        "step_ms_p90": sorted(pages)[int(0.9 * len(pages))] * 1e3,
        "image_render_ms_median": statistics.median(renders) * 1e3,
        "image_cells": [Segment.get_line_length(lines[0]) if lines else 0, len(lines)],
    }
