"""The one thing a launcher needs from a task: build it from a config, then ``run(options)`` it."""

from typing import Any, Protocol

from xaxengine.launch_config import RunOptions


class Trains(Protocol):
    """A task instance: trains in this process and returns the exit code."""

    def run(self, options: RunOptions, /) -> int:
        """Trains; returns the exit code."""
        ...


class Runnable(Protocol):
    """A task class (``Task`` or ``SupervisedTask`` subclass) as the launchers see it."""

    __name__: str
    __module__: str
    __qualname__: str

    def __call__(self, config: Any, /) -> Trains:
        """Builds the task from its resolved config."""
        ...
