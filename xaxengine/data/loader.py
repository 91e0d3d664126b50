"""The interface the trainer uses to get each step's data, and the in-memory fast path behind it.

A loader yields the data operands of the compiled step (``(columns, idx)`` on the fast path, ``(batch, None)``
otherwise) and has a JSON-serializable state saved in the checkpoint's meta, so a resumed run sees exactly the
batches the uninterrupted run would have.
"""

from typing import Any, Protocol

import numpy as np

from xaxengine.task.mixins.dataloaders import Columns, LoaderPosition
from xaxengine.task.mixins.sharding import Placement
from xaxengine.task.mixins.train_step import CallBatches


class Loader(Protocol):
    """What the trainer asks of a training data loader."""

    def example(self) -> tuple[Any, ...]:
        """Step operands with the shapes and dtypes of every batch (used to compile the step; consumes nothing)."""
        ...

    def next(self) -> tuple[Any, ...]:
        """The data operands of the next step."""
        ...

    def get_state(self) -> dict[str, Any]:
        """The position after the batches handed out so far (JSON-serializable)."""
        ...

    def close(self) -> None:
        """Stops workers and threads, if any."""
        ...

    def pool_stats(self) -> dict[str, Any] | None:
        """The worker pool's rate and queue depth for ``stats`` events (None: no pool on this path)."""
        ...


def position_from_state(state: dict[str, Any]) -> LoaderPosition:
    """The ``(epoch, offset)`` position of a saved loader state (older checkpoints hold only these two keys)."""
    return LoaderPosition(int(state.get("epoch", 0)), int(state.get("offset", 0)))


class InMemoryLoader:
    """The fast path: whole columns (on the device when small), index batches from :class:`TrainBatches`."""

    kind = "memory"

    def __init__(self, columns: Columns, batches: CallBatches, placement: Placement, on_device: bool) -> None:
        """Wraps placed columns and an index iterator."""
        self.columns, self.batches, self.placement, self.on_device = columns, batches, placement, on_device

    def example(self) -> tuple[Any, ...]:
        """The operands of the first batch of the current epoch (only their shapes matter)."""
        return self.placement.step_data(self.columns, np.asarray(self.batches.example()), self.on_device)

    def next(self) -> tuple[Any, ...]:
        """Gathers the next index batch (on the device, inside the step, when the columns are there)."""
        return self.placement.step_data(self.columns, next(self.batches), self.on_device)

    def get_state(self) -> dict[str, Any]:
        """``{"kind": "memory", "epoch": E, "offset": O}``."""
        position = self.batches.position
        return {"kind": self.kind, "epoch": position.epoch, "offset": position.offset}

    def close(self) -> None:
        """Nothing to stop."""

    def pool_stats(self) -> None:
        """No worker pool: batches are gathered by index in the step."""
