"""The engine's own threads: their CPU clocks (what they cost the step) and their lower scheduling priority.

An engine run has, besides the training loop's main thread and XLA's compute threads, a few threads of its own:
``xax-logger`` (TensorBoard, W&B and progress backends, image and histogram encoding), ``xax-stats`` (the CPU/GPU
sampler), ``xax-signals`` (the signal watcher) and Orbax's async checkpoint writers. On a machine with few cores
they compete with the step for a core, so the logger and the sampler lower their own priority
(``process.background_nice``) when they start: they still run whenever a core is idle, but never take one from the
step. The signal watcher keeps its priority (a second Ctrl+C must exit at once).
"""

import collections
import logging
import os
import threading

logger = logging.getLogger("xaxengine")

_BACKGROUND = {"nice": 10}  # process.background_nice of the run in this process


def set_background_nice(nice: int) -> None:
    """Sets the niceness that :func:`lower_this_thread` adds (``process.background_nice``; 0 leaves it)."""
    _BACKGROUND["nice"] = nice


def lower_this_thread() -> None:
    """Lowers the calling thread's scheduling priority by ``process.background_nice`` (Linux: nice is per thread)."""
    nice = _BACKGROUND["nice"]
    if not nice or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as error:  # a sandbox without the syscall: the thread runs at normal priority
        logger.debug("cannot lower the priority of thread %s: %s", threading.current_thread().name, error)


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) of every live thread of this process, by name.

    Python threads are named by their ``threading`` name (``MainThread``, ``xax-logger``...); native threads (XLA's
    compute pool, Orbax's and gRPC's) by their kernel name, summed per name. Empty where ``/proc`` is missing.
    """
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    totals: dict[str, float] = collections.defaultdict(float)
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return {}
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended while we listed them
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        utime, stime = int(rest[11]), int(rest[12])  # fields 14 and 15 of proc(5); rest[0] is field 3
        totals[names.get(int(tid)) or f"native:{comm}"] += (utime + stime) / ticks
    return dict(totals)
