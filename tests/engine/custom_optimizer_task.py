"""The digits task with its own optimizer (plain SGD), so the [optimizer] section is not what trains it."""

import optax

from tasks.mnist import MnistTask


class CustomOptimizerTask(MnistTask):
    """Overrides get_optimizer."""

    def get_optimizer(self) -> optax.GradientTransformation:
        return optax.sgd(0.1)
