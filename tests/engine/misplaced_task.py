"""A task whose config declares ``max_steps`` at the top level, beside the engine's ``train.max_steps``."""

from dataclasses import dataclass

import xaxengine as xax
from tasks.mnist import MnistConfig, MnistTask


@dataclass(kw_only=True)
class MisplacedConfig(MnistConfig):
    """Declares a field the engine never reads."""

    max_steps: int = xax.field(10, help="Meant as train.max_steps.")


class MisplacedTask(MnistTask, xax.SupervisedTask[MisplacedConfig]):
    """Otherwise the digits task."""
