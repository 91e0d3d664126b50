"""A data-bound workload: the benchmark MLP with a per-example augmentation of tunable cost (``work``)."""

from dataclasses import dataclass

import numpy as np

import xaxengine as xax
from bench.mlp_task import BenchConfig, BenchMlpTask


def augment(x: np.ndarray, rng: np.random.Generator, work: int) -> np.ndarray:
    """Noise, a random roll and ``work`` rounds of elementwise numpy work on one 784-vector (host CPU time)."""
    out = np.roll(x, int(rng.integers(-3, 4))) + rng.normal(0.0, 0.1, x.shape).astype(np.float32)
    for _ in range(work):
        out = np.tanh(out * np.float32(1.01)) + np.float32(0.01) * np.sin(out)
    return out.astype(np.float32)


@dataclass(kw_only=True)
class DataBoundConfig(BenchConfig):
    """Benchmark config plus the augmentation's cost."""

    work: int = xax.field(8, help="Rounds of elementwise work per example.")


class DataBoundTask(BenchMlpTask):
    """The benchmark MLP trained through the Grain path with :func:`augment` per example."""

    config_class = DataBoundConfig

    def transform(self, example: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"x": augment(example["x"], rng, self.config.work), "y": example["y"]}
