"""CPU and memory statistics of the engine process tree, sampled by a background thread."""

import logging
import threading
from collections.abc import Callable

import psutil

from xaxengine.threads import lower_this_thread

logger = logging.getLogger(__name__)


class CPUStats:
    """Samples CPU %, RSS and memory of this process and its children, and the load of every core."""

    def __init__(self) -> None:
        """Starts counting at the first :meth:`sample`."""
        self._process: psutil.Process | None = None
        self._children: dict[int, psutil.Process] = {}

    def sample(self) -> dict[str, object]:
        """Samples the process tree and the machine.

        Returns:
            ``cpu_percent`` of the process tree (100 = one core, children included), ``rss_bytes`` of the tree,
            ``num_children``, the machine's ``mem_percent``, ``cpu_per_core`` (percent per logical core since the
            last sample) and ``load_avg`` (1, 5, 15 minutes).
        """
        if self._process is None:
            self._process = psutil.Process()
            self._process.cpu_percent(None)
            psutil.cpu_percent(None, percpu=True)
            self._children = {}
        cpu, rss = self._process.cpu_percent(None), self._process.memory_info().rss
        try:
            children = self._process.children(recursive=True)
        except psutil.Error:
            children = []
        alive = {child.pid for child in children}
        for pid in [pid for pid in self._children if pid not in alive]:
            del self._children[pid]
        for child in children:
            known = self._children.setdefault(child.pid, child)
            try:
                cpu += known.cpu_percent(None)
                rss += known.memory_info().rss
            except psutil.Error:
                self._children.pop(child.pid, None)
        return {
            "cpu_percent": cpu,
            "rss_bytes": rss,
            "num_children": len(self._children),
            "mem_percent": psutil.virtual_memory().percent,
            "cpu_per_core": psutil.cpu_percent(None, percpu=True),
            "load_avg": list(psutil.getloadavg()),
        }


class StatsSampler:
    """Calls a sampling function every ``interval_s`` seconds on a daemon thread until stopped."""

    def __init__(self, sample: Callable[[], None], interval_s: float) -> None:
        """Creates the sampler; call :meth:`start`."""
        self.sample = sample
        self.interval_s = interval_s
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="xax-stats", daemon=True)

    def start(self) -> None:
        """Starts sampling."""
        self.thread.start()

    def _loop(self) -> None:
        lower_this_thread()
        failed = False
        while not self.stopped.wait(self.interval_s):
            try:
                self.sample()
            except Exception:
                if not failed:
                    logger.exception("sampling system statistics failed (further failures are not logged)")
                failed = True

    def stop(self) -> None:
        """Stops sampling and waits for the thread."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
