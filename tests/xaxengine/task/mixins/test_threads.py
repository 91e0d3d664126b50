"""The engine's own threads: the logger and the stats sampler lower their priority; their CPU clocks are readable."""

import io
import os
import threading
import time

import pytest

from xaxengine.protocol import EventWriter, Kind
from xaxengine.task.loggers.base import EventBus
from xaxengine.task.mixins.cpu_stats import StatsSampler
from xaxengine.threads import set_background_nice, thread_cpu_seconds


def _priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class _PriorityRecorder:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def write(self, event: dict) -> None:
        self.seen.append(_priority())

    def close(self) -> None:
        pass


@pytest.fixture
def nice():
    yield set_background_nice
    set_background_nice(10)


@pytest.mark.parametrize("added", [0, 7])
def test_the_logger_and_sampler_threads_run_at_the_configured_niceness(nice, added):
    nice(added)
    base = _priority()
    recorder = _PriorityRecorder()
    bus = EventBus(EventWriter([io.BytesIO()]), [recorder])
    bus.emit(Kind.LOG, level="info", message="hello")
    bus.close()
    sampled: list[int] = []
    sampler = StatsSampler(lambda: sampled.append(_priority()), 0.01)
    sampler.start()
    deadline = time.monotonic() + 5
    while not sampled and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    assert recorder.seen == [min(19, base + added)]
    assert sampled and sampled[0] == min(19, base + added)
    assert _priority() == base  # the calling (training) thread keeps its priority


def test_thread_clocks_name_python_threads_and_count_their_cpu():
    stop = threading.Event()

    def spin() -> None:
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass
        stop.wait()

    thread = threading.Thread(target=spin, name="spinner")
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and thread_cpu_seconds().get("spinner", 0.0) < 0.25:
        time.sleep(0.05)
    clocks = thread_cpu_seconds()
    stop.set()
    thread.join()
    assert clocks["spinner"] >= 0.25
    assert "MainThread" in clocks
