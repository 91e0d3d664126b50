"""The sweep view's chart: the best objective so far, and each completed trial's value, against the trial number.

It is the run view's :class:`~xaxtui.widgets.charts.MetricChart` drawn from a :class:`~xaxtui.state.RunState` that
holds two series (phases ``best`` and ``trial``) whose steps are trial numbers.
"""

from xaxtui.state import RunState, Series
from xaxtui.sweeps import SweepStatus, best_so_far
from xaxtui.widgets.charts import ChartOptions, MetricChart


def history_state(sweep: SweepStatus, metric: str) -> RunState:
    """A run state with the sweep's best-so-far curve (phase ``best``) and trial values (phase ``trial``).

    Args:
        sweep: What was read of the sweep.
        metric: The series' name (the chart's title).

    Returns:
        A state whose series have trial numbers as steps (and as times; the best curve as steps, see
        :func:`staircase`); empty before a trial completed.
    """
    done = [(t.number, t.value) for t in sweep.rows if t.state == "complete" and t.value is not None]
    state = RunState()
    for phase, points in (("best", staircase(best_so_far(sweep.rows, sweep.maximize))), ("trial", done)):
        if points:
            numbers = [float(n) for n, _ in points]
            state.series[metric, phase] = Series(steps=numbers, times=numbers, values=[v for _, v in points])
    return state


def staircase(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The best-so-far points as steps: where the best improves, the old best first, then the new one."""
    out: list[tuple[int, float]] = []
    for number, value in points:
        if out and value != out[-1][1]:
            out.append((number, out[-1][1]))
        out.append((number, value))
    return out


class BestCurve(MetricChart):
    """The best objective so far (respecting the sweep's direction) and each trial's value, by trial number."""

    def __init__(self, **kwargs: object) -> None:
        """Creates an empty chart."""
        super().__init__("objective", **kwargs)

    def show_sweep(self, sweep: SweepStatus) -> None:
        """Draws the sweep's trials so far."""
        self.metric = f"{sweep.objective or 'objective'} ({sweep.direction})"
        self.draw(
            [(sweep.sweep_id, history_state(sweep, self.metric))], ChartOptions(clip=False)
        )  # no clip key in the sweep view

    def draw(self, runs: list[tuple[str, RunState]], options: ChartOptions) -> None:
        """Draws as a metric chart, with the trial number on the x axis."""
        super().draw(runs, options)
        self.set_xlabel("trial")
