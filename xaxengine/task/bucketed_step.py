"""The train step under ``data.bucket_by``: compiled once per bucket length, the first time a batch of it comes.

Batches of each bucket have their own shape (``xaxengine/data/buckets.py``), and an ahead-of-time compiled step
takes one shape. This wrapper keeps one compiled step per length of the bucketed column and picks it by the
batch's shape: a dictionary lookup per step, paid only by runs that bucket. A bucket first met mid-run is compiled
then (its ``compile`` event is named ``train_step[<column>=<length>]``; the time counts as step time).
"""

from collections.abc import Callable
from typing import Any

StepFn = Callable[..., Any]


class BucketedStep:
    """Dispatches each call to the step compiled for its batch's length of ``column``."""

    def __init__(
        self, column: str, first: StepFn, first_data: tuple[Any, ...], compile_for: Callable[..., StepFn]
    ) -> None:
        """Starts from the step compiled on the first batch.

        Args:
            column: ``data.bucket_by``.
            first: The step compiled on the first batch.
            first_data: The first batch's step operands (its length picks ``first``).
            compile_for: ``compile_for(name, args) -> step`` compiles the step on ``args``' shapes.
        """
        self.column, self.compile_for = column, compile_for
        self.steps: dict[int, StepFn] = {self.length(first_data): first}

    def length(self, data: tuple[Any, ...]) -> int:
        """The padded length of the bucketed column in the step operands ``data`` (a batch dict first)."""
        return int(data[0][self.column].shape[1])

    def __call__(self, leaves: list[Any], *data: Any) -> Any:
        """Runs the step compiled for this batch's length, compiling it first if it is new."""
        length = self.length(data)
        step = self.steps.get(length)
        if step is None:
            step = self.steps[length] = self.compile_for(f"train_step[{self.column}={length}]", (leaves, *data))
        return step(leaves, *data)
