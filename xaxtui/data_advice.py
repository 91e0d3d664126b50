"""What to change when a run is data-bound: read from the worker pool's numbers in ``stats`` (no textual, no jax).

The engine's ``stats`` events carry ``data`` on the Grain path (``docs/protocol.md``): the worker count, the batches
built and not yet taken (``queue``) and the share of time the workers were busy (``busy_frac``). A data-bound run
whose queue is empty, or whose workers are always busy, needs more workers; one whose workers keep batches ready
waits on something else (copying batches to the device), and more workers will not help.
"""

from typing import Any

BUSY_FRAC = 0.8  # workers busy more than this share of the time are the bottleneck


def configured_workers(run_start: dict[str, Any]) -> int | None:
    """``data.num_workers`` from the resolved config of ``run_start`` (None when it is not there)."""
    data = (run_start.get("config") or {}).get("data")
    value = data.get("num_workers") if isinstance(data, dict) else None
    return int(value) if isinstance(value, int | float) else None


def data_bound_advice(pool: dict[str, Any], run_start: dict[str, Any]) -> str:
    """One short clause for the header's data-bound flag, naming ``data.num_workers`` and what is known of the pool.

    Args:
        pool: The latest ``data`` field of ``stats`` (empty: no pool seen).
        run_start: The run's ``run_start`` event (its resolved config gives the worker count without a pool).
    """
    workers = pool.get("workers")
    if not isinstance(workers, int):
        now = configured_workers(run_start)
        return "raise data.num_workers" + (f" (now {now})" if now is not None else "")
    queue, busy = pool.get("queue"), pool.get("busy_frac")
    known = [f"now {workers}"]
    if isinstance(queue, int):
        known.append(f"{queue} batches ready")
    if isinstance(busy, int | float):
        known.append(f"workers {100 * busy:.0f}% busy")
    detail = ", ".join(known)
    starved = queue == 0 or (isinstance(busy, int | float) and busy >= BUSY_FRAC)
    if starved or not isinstance(queue, int):
        return f"raise data.num_workers ({detail})"
    return f"not the workers ({detail}): data.num_workers will not help; the wait is the copy to the device"
