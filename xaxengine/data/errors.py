"""The data error: one line naming the example, batch or column that could not become a batch."""


class DataError(RuntimeError):
    """An example that could not be turned into a batch row; ``str(e)`` is one line naming the example."""
