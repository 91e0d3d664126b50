"""The data error: one line naming the example, batch or column that could not become a batch."""


class DataError(RuntimeError):
    """An example that could not be turned into a batch row; ``str(e)`` is one line naming the example."""


def one_line(error: BaseException) -> str:
    """``Type: message``, cut to its first line (for a failure reason naming the example)."""
    return f"{type(error).__name__}: {error}".splitlines()[0]
