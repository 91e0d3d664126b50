"""Logger backends read back by their own tools: JSONL by the protocol decoder, TensorBoard by its EventAccumulator,
W&B by parsing the offline run's ``.wandb`` record log. One real 30-step engine run feeds most tests."""

import glob
import io
import itertools
import logging
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xaxengine.protocol import EventWriter, Kind, decode
from xaxengine.task.loggers.base import EventBus
from xaxengine.task.loggers.media import image_grid, read_ply, write_ply
from xaxengine.task.loggers.stdout import StdoutBackend

ROOT = Path(__file__).resolve().parents[4]
HEAVY_STEPS = [10, 20, 30]


def _wandb_installed() -> bool:
    try:
        import wandb  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "JAX_PLATFORMS": "cpu"}
    env["WANDB_MODE"] = "offline"
    overrides = [
        "task=tests.fixtures.tasks.logging_task:LoggingTaskWithBrokenBackend",
        "train.max_steps=30",
        "train.log_every_n_steps=10",
        "train.log_heavy_every_n_steps=10",
        "train.valid_every_n_steps=30",
        "checkpoint.save_every_n_steps=0",
        "stats.interval_s=0.2",
        "logger.progress=plain",
        f"logger.wandb.enabled={'true' if _wandb_installed() else 'false'}",
        "logger.wandb.tags=['ci']",
    ]
    main = "import sys; from xaxengine.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", main, "run", "tasks/mnist.toml", *overrides, "--runs-dir", str(runs)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = runs.glob("*/*/events.jsonl")
    return found.parent


@pytest.fixture(scope="module")
def events(run_dir: Path) -> list[dict]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    decoded = [decode(line) for line in lines]
    assert all(e is not None for e in decoded), "every JSONL line decodes as an event"
    return [e for e in decoded if e is not None]


def _of(events: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [e for e in events if e["kind"] == kind and (name is None or e.get("name") == name)]


def test_jsonl_events_follow_the_protocol(run_dir: Path, events: list[dict]) -> None:
    seqs = [e["seq"] for e in events]
    assert all(b > a for a, b in itertools.pairwise(seqs)), "seq strictly increases"
    assert _of(events, Kind.STATUS)[-1]["state"] == "finished"
    assert [e["step"] for e in _of(events, Kind.HISTOGRAM, "weights/first")] == HEAVY_STEPS
    hist = _of(events, Kind.HISTOGRAM)[0]
    assert len(hist["bins"]) == len(hist["counts"]) + 1 == 65
    assert sum(hist["counts"]) == 64 * 256, "every weight of the first 64x256 layer is counted"
    for image in _of(events, Kind.IMAGE, "samples/digits"):
        png = Image.open(run_dir / image["path"])
        assert png.size == (image["width"], image["height"]) == (4 * 8 + 3, 4 * 8 + 3)
    assert [e["text"] for e in _of(events, Kind.TEXT)] == [f"step {s}: 128 labels" for s in HEAVY_STEPS]
    assert [e["std"] for e in _of(events, Kind.DISTRIBUTION, "dist/given")] == [float(s) for s in HEAVY_STEPS]
    for mesh in _of(events, Kind.MESH, "mesh/tetra"):
        vertices, faces, colors = read_ply(run_dir / mesh["path"])
        assert (mesh["num_vertices"], mesh["num_faces"]) == (4, 4)
        assert vertices[3, 2] == mesh["step"] and faces.shape == (4, 3) and colors is not None
        assert colors[3].tolist() == [255, 255, 0]


def test_stats_events_have_cpu_tree_and_no_gpu_line(events: list[dict]) -> None:
    stats = _of(events, Kind.STATS)
    assert len(stats) >= 2
    for e in stats:
        assert e["rss_bytes"] > 50 * 2**20 and 0 < e["mem_percent"] < 100 and e["cpu_percent"] >= 0
        assert len(e["cpu_per_core"]) == os.cpu_count() and e["gpus"] == []
    assert max(e["cpu_percent"] for e in stats) > 0
    gpu_lines = [e for e in _of(events, Kind.LOG) if "no GPU statistics" in e["message"]]
    assert len(gpu_lines) == 1


def test_failing_backend_is_logged_once_and_training_finishes(events: list[dict]) -> None:
    errors = [e for e in _of(events, Kind.LOG) if "BrokenBackend failed on a" in e["message"]]
    assert len(errors) == 1, errors
    assert errors[0]["level"] == "error"
    (summary,) = [e for e in _of(events, Kind.LOG) if "BrokenBackend failed on" in e["message"] and e not in errors]
    assert summary["level"] == "warning" and "events in all" in summary["message"]
    assert _of(events, Kind.STATUS)[-1]["state"] == "finished"


def _accumulator(run_dir: Path):
    from tensorboard.backend.event_processing import event_accumulator as ea

    kinds = (ea.SCALARS, ea.HISTOGRAMS, ea.IMAGES, ea.TENSORS, ea.COMPRESSED_HISTOGRAMS)
    acc = ea.EventAccumulator(str(run_dir / "tensorboard"), size_guidance=dict.fromkeys(kinds, 0))
    return acc.Reload()


def test_tensorboard_reads_back_every_kind(run_dir: Path, events: list[dict]) -> None:
    acc = _accumulator(run_dir)
    tags = acc.Tags()
    for phase in ("train", "valid"):
        for e in [e for e in _of(events, Kind.SCALARS) if e["phase"] == phase]:
            for name, value in e["values"].items():
                points = {p.step: p.value for p in acc.Scalars(f"{phase}/{name}")}
                assert points[e["step"]] == pytest.approx(value, rel=1e-6), (phase, name, e["step"])
    assert [p.step for p in acc.Scalars("train/loss")] == HEAVY_STEPS
    assert {"system/cpu_percent", "system/rss_mb", "system/mem_percent", "system/cpu_core/00"} <= set(tags["scalars"])
    histograms = acc.Histograms("weights/first")
    assert [h.step for h in histograms] == HEAVY_STEPS
    assert histograms[0].histogram_value.num == 64 * 256
    images = acc.Images("samples/digits")
    assert [(i.step, i.width, i.height) for i in images] == [(s, 35, 35) for s in HEAVY_STEPS]
    texts = acc.Tensors("notes/step/text_summary")
    assert [t.tensor_proto.string_val[0].decode() for t in texts] == [f"step {s}: 128 labels" for s in HEAVY_STEPS]
    assert [p.value for p in acc.Scalars("dist/given/std")] == [float(s) for s in HEAVY_STEPS]
    assert "dist/samples/mean" in tags["scalars"]
    vertices = acc.Tensors("mesh/tetra_1")
    assert [v.step for v in vertices] == HEAVY_STEPS
    assert {"mesh/tetra_2", "mesh/tetra_3"} <= set(tags["tensors"])


def _wandb_records(path: Path):
    """Parses the LevelDB-style record log of a ``.wandb`` file (32 KiB blocks, 7-byte chunk headers)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, buf, block = 7, b"", 1 << 15
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:
            break
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST chunk
            record = pb.Record()  # ty: ignore[missing-attribute]
            record.ParseFromString(buf)
            buf = b""
            yield record


def test_wandb_offline_run_has_every_kind(run_dir: Path, events: list[dict]) -> None:
    pytest.importorskip("wandb")
    (path,) = glob.glob(str(run_dir / "wandb" / "offline-run-*" / "run-*.wandb"))
    history: list[dict[str, str]] = []
    run_records = []
    for record in _wandb_records(Path(path)):
        if record.WhichOneof("record_type") == "history":
            history.append({item.key or "/".join(item.nested_key): item.value_json for item in record.history.item})
        elif record.WhichOneof("record_type") == "run":
            run_records.append(record.run)
    assert run_records and list(run_records[0].tags) == ["ci"]
    assert {"train", "optimizer", "logger"} <= {item.key for item in run_records[0].config.update}
    loss = {int(row["_step"]): float(row["train/loss"]) for row in history if "train/loss" in row}
    expected = {e["step"]: e["values"]["loss"] for e in _of(events, Kind.SCALARS) if e["phase"] == "train"}
    assert loss == pytest.approx(expected)
    keys = {key for row in history for key in row}
    assert {"system/cpu_percent", "system/rss_mb", "valid/accuracy", "dist/samples/mean"} <= keys
    types = {key.rsplit("/", 1)[0]: row[key] for row in history for key in row if key.endswith("/_type")}
    assert types["weights/first"] == '"histogram"'
    assert types["samples/digits"] == '"image-file"'
    assert types["notes/step"] == '"table-file"'
    assert types["mesh/tetra"] == '"object3D-file"'
    image_steps = sorted(int(row["_step"]) for row in history if "samples/digits/_type" in row)
    assert image_steps == HEAVY_STEPS


class _Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.events: list[dict] = []
        self.threads: set[str] = set()
        self.delay = delay
        self.closed = False

    def write(self, event: dict) -> None:
        time.sleep(self.delay)
        self.threads.add(threading.current_thread().name)
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


class _Failing:
    def write(self, event: dict) -> None:
        raise ValueError("nope")

    def close(self) -> None:
        raise ValueError("cannot close either")


def test_bus_drains_on_close_and_survives_failures(caplog: pytest.LogCaptureFixture) -> None:
    sink = io.BytesIO()
    slow = _Recorder(delay=0.002)
    bus = EventBus(EventWriter([sink]), [_Failing(), slow])
    with caplog.at_level(logging.WARNING, logger="xaxengine.task.loggers.base"):
        for step in range(50):
            bus.emit(Kind.SCALARS, step=step, phase="train", values={"loss": 1.0})
        bus.submit(lambda: bus.emit(Kind.TEXT, step=50, name="late", text="from the writer thread"))
        bus.submit(lambda: 1 / 0)  # a failing job is logged and the thread goes on
        bus.emit(Kind.STATUS, state="finished", step=50, reason=None)
        bus.close()
        bus.close()
    delivered = [e["seq"] for e in slow.events]
    assert sorted(delivered) == list(range(52)), "every event is delivered before close returns"
    assert [e["kind"] for e in slow.events[-2:]] == ["text", "status"], "a job's event keeps its submission order"
    assert slow.threads == {"xax-logger"} and slow.closed
    failed = [r for r in caplog.records if "further failures are counted" in r.getMessage()]
    assert len(failed) == 1, "a failing backend is logged once, not per event"
    assert any("failed on 52 events in all" in r.getMessage() for r in caplog.records)
    assert any("deferred log job failed" in r.getMessage() for r in caplog.records)
    lines = [decode(line) for line in sink.getvalue().splitlines()]
    assert [e["seq"] for e in lines if e] == list(range(52))


def test_image_grid_and_ply_roundtrip(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((5, 6, 7))
    grid = image_grid(images, ncols=2, pad=1)
    assert grid.shape == (3 * 6 + 2, 2 * 7 + 1) and grid.dtype == np.uint8
    assert grid[6 + 1 : 12 + 1, 7 + 1 :].tolist() == (images[3] * 255).round().astype(np.uint8).tolist()
    vertices = np.random.default_rng(1).random((10, 3)).astype(np.float32)
    write_ply(tmp_path / "points.ply", vertices)
    back, faces, colors = read_ply(tmp_path / "points.ply")
    assert np.array_equal(back, vertices) and faces.shape == (0, 3) and colors is None
    assert (tmp_path / "points.ply").read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")


def test_stdout_prints_a_table_on_a_terminal_and_lines_otherwise(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    backend = StdoutBackend(stream, max_steps=100, use_progress_bar=True, table_every_n=2)
    backend.write({"kind": "scalars", "step": 10, "phase": "train", "values": {"loss": 0.5}, "steps_per_s": 9.0})
    backend.write({"kind": "scalars", "step": 10, "phase": "valid", "values": {"loss": 0.25, "accuracy": 0.75}})
    backend.close()
    table = stream.getvalue()
    assert "accuracy" in table and "0.25" in table and "0.75" in table and "valid" in table
    with caplog.at_level(logging.INFO, logger="xaxengine"):
        plain = StdoutBackend(io.StringIO(), max_steps=100, use_progress_bar=False)
        plain.write({"kind": "scalars", "step": 3, "phase": "train", "values": {"loss": 0.5}})
    assert "step 3 train loss=0.5" in caplog.text


def test_wandb_start_is_tried_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    from xaxengine.task.loggers.wandb import WandbBackend, WandbConfig

    backend = WandbBackend(WandbConfig(enabled=True, mode="online"), tmp_path, {})
    starts = []

    def fail() -> None:
        starts.append(1)
        raise RuntimeError("no API key")

    monkeypatch.setattr(backend, "_start", fail)
    with pytest.raises(RuntimeError):
        backend.write({"kind": "scalars", "step": 1, "phase": "train", "values": {"loss": 1.0}})
    backend.write({"kind": "scalars", "step": 2, "phase": "train", "values": {"loss": 1.0}})
    backend.close()
    assert starts == [1]


def test_tensorboard_system_scalars_include_gpus_at_the_training_step(tmp_path: Path) -> None:
    from xaxengine.task.loggers.tensorboard import TensorBoardBackend

    backend = TensorBoardBackend(tmp_path / "tensorboard", tmp_path)
    gpu = {"index": 0, "name": "Fake", "util_percent": 55.0, "mem_used_bytes": 2**30, "temp_c": 60.0, "power_w": None}
    stats = {"kind": "stats", "cpu_percent": 150.0, "rss_bytes": 2**28, "mem_percent": 12.5, "gpus": [gpu]}
    backend.write({"seq": 0, "t": 1.0, "kind": "scalars", "step": 7, "phase": "train", "values": {"loss": 1.0}})
    backend.write({"seq": 1, "t": 2.0, **stats, "cpu_per_core": [10.0, 90.0]})
    backend.close()
    acc = _accumulator(tmp_path)
    read = {tag: [(p.step, p.value) for p in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    assert read["system/gpu0/util_percent"] == [(7, 55.0)]
    assert read["system/gpu0/mem_used_bytes"] == [(7, 2.0**30)]
    assert read["system/rss_mb"] == [(7, 256.0)] and read["system/cpu_core/01"] == [(7, 90.0)]
    assert "system/gpu0/power_w" not in read
