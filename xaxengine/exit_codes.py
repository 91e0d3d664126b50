"""The engine's exit codes, one set for the CLI, the training process and the launchers (no jax)."""

import signal

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed (exception, non-finite loss, a rank died)
EXIT_BAD_INPUT = 2  # bad command line, config or run argument: one line on stderr, nothing started
EXIT_SIGINT = 128 + signal.SIGINT  # 130: interrupted by SIGINT (Ctrl-C), after the graceful stop
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143: interrupted by SIGTERM (``xaxengine stop``, the TUI's stop key)
EXIT_INTERRUPTED = (EXIT_SIGINT, EXIT_SIGTERM)


def exit_code_for_signal(signum: int) -> int:
    """The conventional exit code of a run stopped by signal ``signum`` (``128 + signum``)."""
    return 128 + int(signum)
