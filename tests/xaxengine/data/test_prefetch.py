"""Device prefetch: items come back in production order, an error at its own position, and close stops the thread."""

import threading

import pytest

from xaxengine.data.prefetch import DevicePrefetch


def _counter(fail_at: int | None = None):
    count = iter(range(1_000_000))

    def produce() -> int:
        value = next(count)
        if value == fail_at:
            raise ValueError(f"bad batch {value}")
        return value

    return produce


def test_items_come_back_in_order():
    prefetch = DevicePrefetch(_counter())
    assert [prefetch.get() for _ in range(50)] == list(range(50))
    prefetch.close()


def test_an_error_is_raised_in_place_of_its_item_and_again_after():
    prefetch = DevicePrefetch(_counter(fail_at=3))
    assert [prefetch.get() for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad batch 3"):
        prefetch.get()
    with pytest.raises(ValueError, match="bad batch 3"):
        prefetch.get()
    prefetch.close()


def test_close_ends_the_thread_blocked_on_a_full_queue():
    prefetch = DevicePrefetch(_counter(), name="xax-prefetch-test")
    assert prefetch.get() == 0  # the thread has produced and filled the queue behind this one
    prefetch.close()
    assert not any(t.name == "xax-prefetch-test" for t in threading.enumerate())
