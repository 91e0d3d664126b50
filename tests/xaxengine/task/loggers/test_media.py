"""``log_video`` (animated GIF) and labeled images: the artifacts, the events, TensorBoard and the TUI's fold."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_engine
from xaxengine.protocol import read_events
from xaxengine.task.loggers import media
from xaxtui.state import RunState, fold


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    proc = run_engine("run", "tests/fixtures/tasks/media_script.toml", "--runs-dir", str(runs), "--run-id", "m")
    assert proc.returncode == 0, proc.stderr
    return runs / "media_script" / "m"


def test_write_gif_keeps_every_frame_and_the_rate(tmp_path):
    frames = np.zeros((4, 6, 5), np.uint8)
    for t in range(4):
        frames[t, t] = 255  # a bright row moving down
    assert media.write_gif(tmp_path / "v.gif", frames, fps=4) == (5, 6, 4)
    gif = Image.open(tmp_path / "v.gif")
    assert gif.n_frames == 4 and gif.info["duration"] == 250 and gif.info["loop"] == 0
    for t in range(4):
        gif.seek(t)
        bright = np.asarray(gif.convert("L")).max(axis=1) > 128
        assert list(np.flatnonzero(bright)) == [t]
    with pytest.raises(ValueError, match="fps must be positive"):
        media.write_gif(tmp_path / "w.gif", frames, fps=0)


def test_labels_are_drawn_under_each_tile():
    images = np.zeros((2, 8, 8), np.float32)
    a, b = media.labeled(images[0], "7"), media.labeled(images[0], "1")
    assert a.shape == (64 + 15, 64, 3)  # scaled 8x to 64 px, one 11 px line plus margins
    assert not a[:64].any() and a[64:].any()  # the image stays black, the strip has text
    assert not np.array_equal(a[64:], b[64:])
    grid = media.labeled_grid(images, ["x", "two\nlines"], ncols=2)
    assert grid.shape == (64 + 26, 2 * 64 + 1, 3)  # both tiles get the taller strip
    with pytest.raises(ValueError, match="2 images but 1 labels"):
        media.labeled_grid(images, ["x"])


def test_events_and_artifacts(run_dir):
    evs = list(read_events(run_dir / "events.jsonl"))
    (video,) = [e for e in evs if e["kind"] == "video"]
    assert {k: video[k] for k in ("step", "name", "width", "height", "frames", "fps")} == {
        "step": 3, "name": "moving", "width": 24, "height": 16, "frames": 6, "fps": 5.0,
    }  # fmt: skip
    assert Image.open(run_dir / video["path"]).n_frames == 6
    images = {e["name"]: e for e in evs if e["kind"] == "image"}
    assert images["digits"]["labels"] == [f"pred {i}\ntrue {i}" for i in range(4)]
    assert images["one"]["labels"] == ["only"]
    grid = np.asarray(Image.open(run_dir / images["digits"]["path"]))
    assert grid.shape[:2] == (images["digits"]["height"], images["digits"]["width"]) == (2 * (64 + 26) + 1, 129)


def test_tensorboard_holds_the_gif_and_the_labeled_grid(run_dir):
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(run_dir / "tensorboard"), size_guidance={ea.IMAGES: 0}).Reload()
    assert {"moving", "digits", "one"} <= set(acc.Tags()["images"])
    (gif,) = acc.Images("moving")
    assert gif.step == 3 and gif.encoded_image_string[:6] == b"GIF89a" and (gif.width, gif.height) == (24, 16)
    assert acc.Images("digits")[0].encoded_image_string[:4] == b"\x89PNG"


def test_the_tui_fold_knows_the_new_kinds(run_dir):
    state = fold(RunState(), list(read_events(run_dir / "events.jsonl")))
    assert state.unknown == 0 and state.status == "finished"


def test_wandb_offline_run_records_the_video_as_a_gif(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    from tests.xaxengine.task.loggers.test_loggers import _wandb_records

    monkeypatch.setenv("WANDB_MODE", "offline")
    proc = run_engine("run", "tests/fixtures/tasks/media_script.toml", "logger.wandb.enabled=true",
                      "--runs-dir", str(tmp_path), "--run-id", "w")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "media_script" / "w"
    (path,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    rows = [
        {item.key or "/".join(item.nested_key): item.value_json for item in record.history.item}
        for record in _wandb_records(path)
        if record.WhichOneof("record_type") == "history"
    ]
    (video,) = [row for row in rows if "moving/_type" in row]
    assert video["moving/_type"] == '"video-file"' and video["_step"] == "3"
    assert video["moving/path"].endswith('.gif"')
    (saved,) = (run_dir / "wandb").glob("offline-run-*/files/media/videos/moving_*.gif")
    assert Image.open(saved).n_frames == 6  # the engine's GIF, every frame
