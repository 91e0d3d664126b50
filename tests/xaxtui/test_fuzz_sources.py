"""Fuzz: random event streams through every source that parses events, then every chart mode under Pilot.

Each seeded stream (``tests/xaxtui/fuzz_events.py``) mixes good scalars with extreme and non-finite values, garbage
lines, truncated JSON, replayed ``seq``, unknown kinds and wrongly typed fields. It goes through the file tail (read
in small chunks, so lines split anywhere), the pipe of a launched process (the stream written in random pieces), and
the ssh tail (a fake ``ssh`` running the real ``xaxengine tail`` here). Nothing may raise, and every finite point of
the stream must be in the folded state, then in the charts of every mode (linear/log y, step/time x, EMA on/off,
compared runs), and in the real app opened on the run.
"""

import asyncio
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from textual.app import App, ComposeResult

from tests.conftest import BIN
from tests.xaxtui.conftest import wait_for
from tests.xaxtui.fuzz_events import Stream, random_stream
from xaxtui.app import XaxTui
from xaxtui.remote import RemoteHost, RemoteTailSource, RemoteTarget
from xaxtui.screens.run import RunScreen
from xaxtui.sources import EventSource, FileTailSource, SubprocessSource
from xaxtui.state import RunState, fold
from xaxtui.widgets.charts import ChartOptions, ChartPane, MetricChart

SEEDS = range(8)
MODES = [
    ChartOptions(log_y=log_y, x_axis=x_axis, smoothing=smoothing)
    for log_y in (False, True)
    for x_axis in ("step", "time")
    for smoothing in (0.0, 0.9)
]
WRITER = """
import random, sys, time
data = open(sys.argv[1], "rb").read()
rng = random.Random(int(sys.argv[2]))
i = 0
while i < len(data):
    n = rng.choice((1, 7, 64, 4096))
    sys.stdout.buffer.write(data[i : i + n]); sys.stdout.buffer.flush()
    i += n
"""
FAKE_SSH = (
    '#!/bin/sh\n# ssh [options] -- DEST LINE: runs LINE here\nwhile [ "$1" != "--" ]; do shift; done\nexec sh -c "$3"\n'
)


def write_run(root: Path, seed: int, events: int = 150) -> tuple[Path, Stream]:
    """A run dir holding seed's stream (its last line cut short one time in two)."""
    rng = random.Random(seed)
    run_id = f"20261201-{seed:06d}-f022"
    stream = random_stream(rng, run_id, events)
    run_dir = root / "fuzz" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "events.jsonl").write_bytes(stream.data(rng, partial_tail=seed % 2 == 1))
    return run_dir, stream


def finite_points(state: RunState) -> dict[tuple[str, str], int]:
    """Per series, the points whose step, time and value are all finite."""
    out = {}
    for key, series in state.series.items():
        steps, ys = series.arrays("step")
        times, _ = series.arrays("time", t0=state.first_t)
        out[key] = int((np.isfinite(steps) & np.isfinite(times) & np.isfinite(ys)).sum())
    return out


def assert_keeps_every_finite_point(state: RunState, stream: Stream) -> None:
    kept = finite_points(state)
    expected = {key: n for key, n in stream.expected.items() if n}
    assert {key: n for key, n in kept.items() if n} == expected
    assert state.status == "finished"


async def read_all(source: EventSource) -> RunState:
    state = RunState()
    async for batch in source:
        fold(state, batch.events)
        state.bad_lines += batch.bad_lines
    return state


def sources(run_dir: Path, seed: int, tmp: Path) -> dict[str, EventSource]:
    ssh = tmp / "ssh"
    if not ssh.exists():
        ssh.write_text(FAKE_SSH)
        ssh.chmod(0o755)
    writer = [sys.executable, "-c", WRITER, str(run_dir / "events.jsonl"), str(seed)]
    host = RemoteHost(RemoteTarget("fuzzhost"), remote_cmd=str(BIN / "xaxengine"), ssh=str(ssh))
    return {
        "file": FileTailSource(run_dir / "events.jsonl", follow=False, chunk=random.Random(seed).choice((7, 61, 4096))),
        "pipe": SubprocessSource(writer),
        "ssh": RemoteTailSource(host, str(run_dir), retry_s=0.05),
    }


@pytest.mark.parametrize("seed", SEEDS)
async def test_every_source_keeps_every_finite_point_of_a_random_stream(seed: int, tmp_path: Path):
    run_dir, stream = write_run(tmp_path, seed)
    assert sum(stream.expected.values()) > 0 and len(stream.lines) > 150
    states = {}
    for name, source in sources(run_dir, seed, tmp_path).items():
        states[name] = await asyncio.wait_for(read_all(source), 60)
        assert_keeps_every_finite_point(states[name], stream)
        if name != "ssh":  # the remote tail re-encodes the events it reads: garbage never crosses the link
            assert states[name].bad_lines == stream.garbage, name
        assert states[name].rejected > 0  # some wrongly typed events were dropped (and counted), none raised
    runs = [(name, state) for name, state in states.items()]
    app = ChartsApp()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChartPane)
        for options in MODES:
            for shown in (runs[:1], runs):  # one run, then the three compared
                pane.options = options
                await pane.redraw(shown)
                await pilot.pause()
                for chart in pane.query(MetricChart):
                    drawn = sum(int((np.isfinite(x) & np.isfinite(y)).sum()) for _, _, x, y in chart.raw)
                    per_run = sum(n for (metric, _), n in stream.expected.items() if metric == chart.metric)
                    assert drawn == per_run * len(shown), (chart.metric, options)
                    if options == ChartOptions() and len(shown) == 1:  # linear, raw: every point on the canvas
                        assert sum(len(d.x) for d in chart._datasets) == per_run, chart.metric


class ChartsApp(App):
    """A bare app holding one chart pane."""

    def compose(self) -> ComposeResult:
        yield ChartPane()


async def test_the_app_opens_random_runs_and_compares_them_in_every_mode(tmp_path: Path):
    runs = [write_run(tmp_path, seed, events=300) for seed in (101, 102)]
    app = XaxTui(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.show_runs([run_dir for run_dir, _ in runs])
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and len(app.screen.sessions) == 2)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_for(pilot, lambda: all(s.state.finished for s in screen.sessions) and screen.is_settled)
        for session, (_, stream) in zip(screen.sessions, runs, strict=True):
            assert_keeps_every_finite_point(session.state, stream)
        for key in ("l", "x", "m", "l", "m", "x", "m", "m", "y", "y"):  # every pairing of the modes, EMA weights
            await pilot.press(key)
            await wait_for(pilot, lambda: screen.is_settled)
        assert app.screen is screen and app.is_running
