"""CPU %, RSS and per-GPU utilisation and memory as sparklines, and where the last interval's time went."""

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, Sparkline, Static

from xaxengine.protocol import TIMING_FRACTIONS
from xaxtui.state import RunState

SPARK_POINTS = 120
SHORT_NAMES = {"checkpoint": "ckpt", "profile": "prof"}  # the pane is narrow


def time_split(timing: dict[str, float]) -> str:
    """``time  step 91% valid 6% data 2%``: the phases of the latest timing event, largest first (1% or more)."""
    named = ((SHORT_NAMES.get(phase, phase), key) for phase, key in TIMING_FRACTIONS.items())
    shares = sorted(((timing.get(key) or 0.0, name) for name, key in named), reverse=True)
    parts = [f"{name} {100 * share:.0f}%" for share, name in shares if share >= 0.005]
    return "time  " + (" ".join(parts) if parts else "-")


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5K``, ``3.2e9`` -> ``3.0G``."""
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}T"


class StatRow(Horizontal):
    """A label with the current value and a sparkline of the history."""

    DEFAULT_CSS = """
    StatRow { height: 1; }
    StatRow > Label { width: 16; }
    StatRow > Sparkline { width: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the row; what :meth:`show` is given before the children exist is applied once they do."""
        super().__init__(**kwargs)  # ty: ignore[invalid-argument-type]
        self._shown: tuple[str, list[float]] | None = None

    def compose(self) -> ComposeResult:
        """Label, then sparkline."""
        yield Label()
        yield Sparkline([], summary_function=max)

    def on_mount(self) -> None:
        """Applies a :meth:`show` that came while the row was being mounted (a new GPU's rows, then an update)."""
        self._apply()

    def show(self, text: str, data: list[float]) -> None:
        """Sets the label and the sparkline data (the last :data:`SPARK_POINTS`, bucketed to the width)."""
        self._shown = (text, data[-SPARK_POINTS:] or [0.0])
        self._apply()

    def _apply(self) -> None:
        labels, sparklines = self.query(Label), self.query(Sparkline)
        if self._shown is None or not labels or not sparklines:  # not composed yet: on_mount applies it
            return
        labels.first().update(self._shown[0])
        sparklines.first().data = self._shown[1]


class StatsPane(VerticalScroll):
    """One row for CPU, one for RSS, two per GPU, and the time split of the latest interval."""

    DEFAULT_CSS = """
    StatsPane { height: auto; max-height: 10; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the pane."""
        super().__init__(**kwargs)  # ty: ignore[invalid-argument-type]
        self._gpus: list[int] = []

    def compose(self) -> ComposeResult:
        """CPU and RSS rows; GPU rows are added when GPUs report."""
        yield Static("time  -", id="stat-time")
        yield StatRow(id="stat-cpu")
        yield StatRow(id="stat-rss")

    def update_state(self, state: RunState) -> None:
        """Shows the latest stats of ``state``."""
        self.query_one("#stat-time", Static).update(time_split(state.timing))
        cpu, rss = list(state.cpu), list(state.rss)
        self.query_one("#stat-cpu", StatRow).show(f"CPU {cpu[-1]:5.0f}%" if cpu else "CPU    -", cpu)
        self.query_one("#stat-rss", StatRow).show(f"RSS {human_bytes(rss[-1]):>6}" if rss else "RSS    -", rss)
        gpus = sorted(state.gpus)
        if gpus != self._gpus:
            self._gpus = gpus
            self.query(".gpu-row").remove()
            for i in gpus:
                self.mount(StatRow(id=f"stat-gpu{i}-util", classes="gpu-row"))
                self.mount(StatRow(id=f"stat-gpu{i}-mem", classes="gpu-row"))
            self.call_after_refresh(self.update_state, state)
            return
        for i in gpus:
            hist = state.gpus[i]
            util, mem = list(hist.util), list(hist.mem_used)
            self.query_one(f"#stat-gpu{i}-util", StatRow).show(f"GPU{i} {util[-1] if util else 0:5.0f}%", util)
            total = human_bytes(hist.mem_total) if hist.mem_total else "?"
            self.query_one(f"#stat-gpu{i}-mem", StatRow).show(f"mem {human_bytes(mem[-1] if mem else 0)}/{total}", mem)
