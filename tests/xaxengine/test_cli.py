"""The engine as a user drives it: the real `xaxengine` console script in subprocesses, real run directories."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, engine_env, run_engine
from xaxengine.protocol import LineReader, read_events

SHORT = [
    "train.max_steps=60",
    "train.log_every_n_steps=10",
    "train.valid_every_n_steps=30",
    "checkpoint.save_every_n_steps=30",
    "logger.progress=plain",
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    runs = tmp_path_factory.mktemp("runs")
    proc = run_engine("run", "tasks/mnist.toml", *SHORT, "--runs-dir", str(runs), "--run-id", "short")
    return proc, runs / "mnist" / "short"


def test_short_run_finishes_and_writes_the_run_directory(finished_run):
    proc, run_dir = finished_run
    assert proc.returncode == 0, proc.stderr
    for name in ("config.toml", "events.jsonl", "stdout.log", "checkpoints", "tensorboard", "artifacts", "lock"):
        assert (run_dir / name).exists(), name
    assert sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == [30, 60]
    assert "status finished" in (run_dir / "stdout.log").read_text()


def test_events_parse_with_increasing_seq_and_expected_kinds(finished_run):
    _, run_dir = finished_run
    raw = (run_dir / "events.jsonl").read_bytes()
    reader = LineReader()
    events = reader.feed(raw)
    assert reader.bad_lines == 0 and reader.pending == b""
    assert len(events) == raw.count(b"\n")
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)) and seqs[0] == 0
    kinds = {e["kind"] for e in events}
    assert {"run_start", "scalars", "stats", "checkpoint", "status"} <= kinds
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    assert [e["step"] for e in train] == [10, 20, 30, 40, 50, 60]
    assert all(e["samples_per_s"] > 0 and {"loss", "accuracy", "grad_norm"} <= set(e["values"]) for e in train)
    assert train[-1]["values"]["loss"] < train[0]["values"]["loss"]
    valid = [e for e in events if e["kind"] == "scalars" and e["phase"] == "valid"]
    assert [e["step"] for e in valid] == [30, 60] and 0.0 <= valid[-1]["values"]["accuracy"] <= 1.0
    states = [e["state"] for e in events if e["kind"] == "status"]
    assert states == ["starting", "compiling", "running", "finished"]
    start = next(e for e in events if e["kind"] == "run_start")
    assert start["task"] == "tasks.mnist:MnistTask" and start["config"]["train"]["max_steps"] == 60
    ckpts = [e for e in events if e["kind"] == "checkpoint"]
    assert [c["step"] for c in ckpts] == [30, 60] and all(c["bytes"] > 0 for c in ckpts)


def test_resolved_config_can_be_run_again(finished_run, runs_dir):
    _, run_dir = finished_run
    text = (run_dir / "config.toml").read_text()
    assert text.startswith('task = "tasks.mnist:MnistTask"') and "max_steps = 60" in text
    proc = run_engine("schema", str(run_dir / "config.toml"))
    assert proc.returncode == 0, proc.stderr
    fields = {f["name"]: f for f in json.loads(proc.stdout)["fields"]}
    assert fields["train.max_steps"]["value"] == 60 and fields["train.max_steps"]["default"] == 1000
    assert all(f["help"] for f in fields.values())


def test_ls_table_and_json(finished_run):
    _, run_dir = finished_run
    runs = run_dir.parent.parent
    proc = run_engine("ls", "--runs-dir", str(runs), "--json")
    assert proc.returncode == 0, proc.stderr
    (info,) = json.loads(proc.stdout)
    assert info["run_id"] == "short" and info["state"] == "finished" and info["step"] == 60 and not info["alive"]
    assert info["last_loss"] is not None
    table = run_engine("ls", "--runs-dir", str(runs)).stdout
    assert "short" in table and "finished" in table


def test_tail_prints_events_from_a_seq(finished_run):
    _, run_dir = finished_run
    all_events = list(read_events(run_dir / "events.jsonl"))
    proc = run_engine("tail", str(run_dir))
    assert [e["seq"] for e in LineReader().feed(proc.stdout.encode())] == [e["seq"] for e in all_events]
    proc = run_engine("tail", "short", "--runs-dir", str(run_dir.parent.parent), "--from-seq", "5")
    assert [e["seq"] for e in LineReader().feed(proc.stdout.encode())] == [e["seq"] for e in all_events[5:]]


def test_tail_follow_streams_a_live_run_until_it_ends(runs_dir):
    engine = subprocess.Popen(
        [
            str(BIN / "xaxengine"),
            "run",
            "tasks/mnist.toml",
            *SHORT,
            "train.max_steps=150",
            "--runs-dir",
            str(runs_dir),
            "--run-id",
            "live",
        ],
        cwd=REPO,
        env=engine_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_dir = runs_dir / "mnist" / "live"
    deadline = time.monotonic() + 60
    while not (run_dir / "events.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    tail = subprocess.run(
        [str(BIN / "xaxengine"), "tail", str(run_dir), "--follow"],
        env=engine_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert engine.wait(timeout=120) == 0
    events = LineReader().feed(tail.stdout)
    assert events[-1]["kind"] == "status" and events[-1]["state"] == "finished"
    assert [e["seq"] for e in events] == [e["seq"] for e in read_events(run_dir / "events.jsonl")]


def test_events_to_stdout_mirror_the_file(runs_dir):
    proc = run_engine(
        "run", "tasks/mnist.toml", *SHORT, "train.max_steps=20", "--runs-dir", str(runs_dir), "--events", "-"
    )
    assert proc.returncode == 0, proc.stderr
    piped = LineReader().feed(proc.stdout.encode())
    run_dir = next((runs_dir / "mnist").iterdir())
    assert piped == list(read_events(run_dir / "events.jsonl"))
    assert "status finished" in proc.stderr  # human lines go to stderr when stdout carries events


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "missing.toml"], "missing.toml"),
        (["run", "tasks/mnist.toml", "optimzer.lr=1"], "did you mean 'optimizer.lr'"),
        (["run", "tasks/mnist.toml", "train.max_steps=abc"], "train.max_steps"),
        (["run", "tasks/mnist.toml", "novalue"], "novalue"),
        (["tail", "no-such-run"], "not found"),
        (["stop", "no-such-run"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected, runs_dir):
    proc = run_engine(*args, "--runs-dir", str(runs_dir))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert expected in proc.stderr


def test_broken_toml_names_line_and_column(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('task = "tasks.mnist:MnistTask"\n[train\nmax_steps = 3\n')
    proc = run_engine("run", str(bad))
    assert proc.returncode == 2 and f"{bad}:2:" in proc.stderr and proc.stderr.count("\n") == 1


def test_run_help_lists_fields_with_help_text():
    proc = run_engine("run", "tasks/mnist.toml", "--help")
    assert proc.returncode == 0
    assert "train.max_steps" in proc.stdout and "Number of optimizer steps" in proc.stdout


def test_devices_is_json():
    proc = run_engine("devices")
    payload = json.loads(proc.stdout)
    assert payload["platform"] == "cpu" and payload["devices"] and "single_device" in payload["layouts"]


def test_ls_skips_an_unreadable_run(finished_run, tmp_path):
    _, run_dir = finished_run
    runs = tmp_path / "runs"
    (runs / "mnist").mkdir(parents=True)
    (runs / "mnist" / "good").symlink_to(run_dir)
    bad = runs / "mnist" / "bad"
    bad.mkdir()
    (bad / "events.jsonl").mkdir()  # reading it raises IsADirectoryError
    proc = run_engine("ls", "--runs-dir", str(runs), "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["run_id"] for r in json.loads(proc.stdout)] == ["good"]
