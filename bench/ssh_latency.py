"""Event-to-state latency over loopback SSH for a live run; writes ``bench/results/ssh_latency.json``.

A throwaway sshd on 127.0.0.1 (as in ``tests/e2e/sshd.py``), the real engine launched "remotely" through it (TOML
copied with ``cat >``, engine detached), and the TUI's :class:`RemoteTailSource` folding every event into a
``RunState``. For each live event: latency = the wall time once it is folded minus the event's ``t`` (the engine's
wall clock when it wrote it; same machine, so same clock). Events replayed on (re)connect are not counted. Halfway
through, the ssh client is killed once to time the reconnect and to check no event is lost or doubled.

Run: ``HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu .venv/bin/python bench/ssh_latency.py``.
"""

import asyncio
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from sshd import missing_reason, start_sshd  # noqa: E402

from xaxtui.remote import RemoteHost, RemoteTailSource, RemoteTarget  # noqa: E402
from xaxtui.state import RunState, fold  # noqa: E402

ENGINE = Path(sys.executable).parent / "xaxengine"
REMOTE_CMD = f"cd {ROOT} && env HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu {ENGINE}"
STEPS = 12000
LOG_EVERY = 20
OUT = ROOT / "bench" / "results" / "ssh_latency.json"


async def measure(host: RemoteHost) -> dict[str, object]:
    """Launches a run on ``host``, follows it to the end, and returns the latency numbers."""
    overrides = ["hidden=32", f"train.max_steps={STEPS}", f"train.log_every_n_steps={LOG_EVERY}"]
    start = ["run", "{toml}", *overrides, "checkpoint.save_every_n_steps=100000", "--runs-dir", "{runs}"]
    source = RemoteTailSource(
        host, "bench", start=[*start, "--run-id", "bench"], toml=(ROOT / "tasks/mnist.toml").read_bytes()
    )
    state = RunState()
    live: list[float] = []
    live_since = float("inf")
    seqs: list[int] = []
    killed_at = reconnected_s = None
    async for batch in source:
        fold(state, batch.events)
        now = time.time()
        if batch.link == "connected":
            if killed_at is not None and reconnected_s is None:
                reconnected_s = time.monotonic() - killed_at
            live_since = now
        seqs += [ev["seq"] for ev in batch.events]
        live += [now - ev["t"] for ev in batch.events if ev["t"] >= live_since]
        if killed_at is None and state.step >= STEPS // 2 and source.process is not None and source.alive:
            killed_at = time.monotonic()
            os.kill(source.process.pid, signal.SIGKILL)
            live_since = float("inf")
    lat = np.asarray(live)
    return {
        "what": "event-to-state latency over loopback SSH: engine writes event (t) -> ssh tail -> RemoteTailSource "
        "-> fold into RunState (time.time() - t)",
        "events_measured": int(lat.size),
        "median_s": round(float(np.median(lat)), 4),
        "p90_s": round(float(np.percentile(lat, 90)), 4),
        "p99_s": round(float(np.percentile(lat, 99)), 4),
        "max_s": round(float(lat.max()), 4),
        "target_s": 1.0,
        "meets_target": bool(np.percentile(lat, 90) <= 1.0),
        "reconnect_after_ssh_kill_s": round(reconnected_s, 3) if reconnected_s is not None else None,
        "events_total": len(seqs),
        "every_seq_once": seqs == list(range(len(seqs))),
        "final_status": state.status,
        "run": {"task": "tasks/mnist.toml (digits)", "overrides": overrides},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main() -> None:
    """Starts sshd, measures, writes the JSON, prints a summary."""
    if (reason := missing_reason()) is not None:
        sys.exit(f"ssh_latency: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_sshd(Path(tmp) / "sshd")
        try:
            target = RemoteTarget("127.0.0.1", server.user, server.port, str(Path(tmp) / "runs"))
            result = asyncio.run(measure(RemoteHost(target, REMOTE_CMD, server.client_options())))
        finally:
            server.stop()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("run", "machine", "what")}, indent=2))


if __name__ == "__main__":
    main()
