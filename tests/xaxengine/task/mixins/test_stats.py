"""System statistics: the CPU sampler sees the process tree and every core; the GPU sampler never crashes."""

import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import psutil
import pynvml
import pytest

from xaxengine.task.mixins.cpu_stats import CPUStats, StatsSampler
from xaxengine.task.mixins.gpu_stats import GPUStats


def test_cpu_stats_include_children_and_every_core() -> None:
    stats = CPUStats()
    before = stats.sample()["num_children"]  # other tests of this worker may have left processes behind
    busy = "import time\nend = time.time() + 5\nwhile time.time() < end: pass\n"
    big = "import time\nblock = bytearray(200 * 2**20)\nblock[::4096] = b'x' * len(block[::4096])\ntime.sleep(5)\n"
    children = [subprocess.Popen([sys.executable, "-c", code]) for code in (busy, big)]
    try:
        time.sleep(1.0)
        stats.sample()  # first sight of the children starts their CPU counters
        time.sleep(1.0)
        sample = stats.sample()
    finally:
        for child in children:
            child.kill()
            child.wait()
    own_rss = psutil.Process().memory_info().rss
    assert sample["num_children"] - before == 2
    assert isinstance(sample["rss_bytes"], int) and sample["rss_bytes"] > own_rss + 150 * 2**20, "children's RSS"
    assert isinstance(sample["cpu_percent"], float) and sample["cpu_percent"] > 20, "the busy child's CPU counts"
    per_core = sample["cpu_per_core"]
    assert isinstance(per_core, list) and len(per_core) == os.cpu_count()
    assert all(0.0 <= p <= 100.0 for p in per_core) and sum(per_core) > 0
    assert isinstance(sample["mem_percent"], float) and 0 < sample["mem_percent"] < 100
    assert isinstance(sample["load_avg"], list) and len(sample["load_avg"]) == 3
    after = stats.sample()
    assert after["num_children"] == before, "dead children are forgotten"


def test_sampler_calls_periodically_and_survives_a_failing_sample(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []
    enough = threading.Event()

    def sample() -> None:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise RuntimeError("transient")
        if len(calls) >= 5:
            enough.set()

    sampler = StatsSampler(sample, interval_s=0.02)
    sampler.start()
    assert enough.wait(5.0), "sampling goes on after failures"
    sampler.stop()
    assert not sampler.thread.is_alive()
    assert len([r for r in caplog.records if "sampling system statistics failed" in r.getMessage()]) == 1


def test_gpu_stats_without_nvml_are_empty_with_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def missing() -> None:
        calls.append(1)
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", missing)
    gpu = GPUStats()
    assert gpu.sample() == []
    assert gpu.sample() == []
    assert len(calls) == 1, "NVML is tried once"
    assert gpu.nvml_error is not None and gpu.nvml_error.startswith("no GPU statistics: NVML unavailable")


def test_gpu_stats_with_no_device_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: 0)
    gpu = GPUStats()
    assert gpu.sample() == []
    assert gpu.nvml_error == "no GPU statistics: NVML found no GPU"


def test_gpu_stats_read_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: 2)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", lambda i: f"h{i}")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetUtilizationRates", lambda h: SimpleNamespace(gpu=37))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetMemoryInfo", lambda h: SimpleNamespace(used=2**30, total=2**34))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetName", lambda h: b"Fake GPU" if h == "h0" else "Fake GPU")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetTemperature", lambda h, sensor: 61)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerUsage", lambda h: 123_456)
    gpu = GPUStats()
    expected = {
        "name": "Fake GPU",
        "util_percent": 37.0,
        "mem_used_bytes": 2**30,
        "mem_total_bytes": 2**34,
        "temp_c": 61.0,
        "power_w": 123.456,
    }
    assert gpu.sample() == [{"index": 0, **expected}, {"index": 1, **expected}]
    assert gpu.nvml_error is None
