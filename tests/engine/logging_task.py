"""A digits task that logs every payload kind in ``log_heavy``; the logger tests run it through the CLI."""

from typing import Any

import jax
import numpy as np

from tasks.mnist import MnistTask


class LoggingTask(MnistTask):
    """MnistTask plus a histogram, an image grid, text, distributions and a mesh in every ``log_heavy``."""

    def log_heavy(self, model: Any, batch: dict[str, np.ndarray], step: int) -> None:
        weights = np.asarray(jax.tree_util.tree_leaves(model)[0])
        self.log_histogram(step, "weights/first", weights)
        self.log_images(step, "samples/digits", batch["image"][:16], ncols=4)
        self.log_text(step, "notes/step", f"step {step}: {len(batch['label'])} labels")
        self.log_distribution(step, "dist/given", mean=0.5, std=float(step))
        self.log_distribution(step, "dist/samples", samples=weights)
        vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, float(step)]], np.float32)
        faces = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]], np.int32)
        colors = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], np.uint8)
        self.log_mesh(step, "mesh/tetra", vertices, faces, colors)


class BrokenBackend:
    """A backend that fails on every event: training must go on and the failure must be logged once."""

    def write(self, event: dict[str, Any]) -> None:
        raise RuntimeError(f"broken backend cannot handle {event['kind']}")

    def close(self) -> None:
        pass


class LoggingTaskWithBrokenBackend(LoggingTask):
    """LoggingTask with a :class:`BrokenBackend` next to the configured ones."""


def _with_broken_backend(self: LoggingTask, human_stream: Any, max_steps: int | None) -> list[Any]:
    return [BrokenBackend(), *LoggingTask._make_backends(self, human_stream, max_steps)]


# A fault injected into the engine on purpose: set after class creation, since a task class body may not shadow
# engine names.
LoggingTaskWithBrokenBackend._make_backends = _with_broken_backend
