"""The launcher's supervisor blames the child that failed first, also when several end within one poll."""

import subprocess
import sys

from xaxengine.task.launchers.child import supervise


def _child(code: int, delay_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", f"import time, os; time.sleep({delay_s}); os._exit({code})"])


def test_the_first_rank_to_fail_is_blamed_even_when_rank_0_fails_within_the_same_poll():
    # Rank 1 fails first; rank 0 (blocked in a collective) fails 0.2 s later. One poll covers both exits.
    procs = [_child(1, 0.5), _child(1, 0.3)]
    blamed: list[tuple[int, int]] = []
    code = supervise(procs, lambda rank, code: blamed.append((rank, code)), poll_s=1.0)
    assert code == 1
    assert blamed == [(1, 1)]


def test_a_killed_rank_is_blamed_before_one_that_exited_with_an_error_first():
    procs = [_child(1, 0.1), _child(-9, 0.0)]
    procs[1].kill()
    blamed: list[tuple[int, int]] = []
    supervise(procs, lambda rank, code: blamed.append((rank, code)), poll_s=1.0)
    assert blamed == [(1, -9)]
