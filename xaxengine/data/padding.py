"""Variable-length examples: pad a column to a fixed length (``data.pad_to``) and add its ``<column>_mask``.

Text and other sequences come in examples of different lengths; a jitted step needs one shape. For each column named
in ``data.pad_to`` (``{tokens = 256}``), every example's value is padded with zeros along its first axis to that
length, and a boolean ``<column>_mask`` of the same length says which positions are real (True) and which are
padding (False). An example longer than the length is an error naming the column and the example (nothing is cut
silently).
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

MASK_SUFFIX = "_mask"


class PaddingError(ValueError):
    """An example that cannot be padded; ``str(e)`` is one line naming the column and the example."""


def pad_example(example: dict[str, Any], index: int, pad_to: Mapping[str, int]) -> dict[str, Any]:
    """``example`` with each column of ``pad_to`` padded along its first axis, plus its mask.

    Args:
        example: One example (column name -> value).
        index: The example's index in the source (for the error line).
        pad_to: Column name -> fixed length.

    Raises:
        PaddingError: A column is missing, is a scalar, or is longer than its length.
    """
    out = dict(example)
    for name, length in pad_to.items():
        if name not in example:
            raise PaddingError(f"data.pad_to names column '{name}', which example {index} does not have")
        value = np.asarray(example[name])
        if value.ndim == 0:
            raise PaddingError(f"column '{name}' of example {index} is a scalar; data.pad_to pads sequences")
        size = value.shape[0]
        if size > length:
            raise PaddingError(
                f"column '{name}' of example {index} has length {size}, more than data.pad_to.{name}={length}"
            )
        padded = np.zeros((length, *value.shape[1:]), dtype=value.dtype)
        padded[:size] = value
        mask = np.zeros(length, dtype=bool)
        mask[:size] = True
        out[name], out[name + MASK_SUFFIX] = padded, mask
    return out
