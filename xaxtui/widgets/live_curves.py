"""The sweep view's overlay of the running trials' objective curves, one color per trial for as long as it runs."""

from xaxtui.state import RunState
from xaxtui.widgets.charts import ChartOptions, MetricChart


class LiveCurves(MetricChart):
    """The objective's series (``valid/accuracy``) of every running trial on one chart, labelled ``trial N``."""

    def __init__(self, **kwargs: object) -> None:
        """Creates an empty chart."""
        super().__init__("objective", **kwargs)
        self.objective = ""
        self.label_colors = {}

    def show(self, objective: str, curves: list[tuple[str, RunState]], colors: dict[str, str]) -> None:
        """Draws ``curves`` (label, state holding the objective's series) in ``colors`` (label -> color)."""
        self.objective = objective
        self.metric = objective.partition("/")[2] or objective
        self.label_colors = colors
        self.draw(curves, ChartOptions(clip=False))  # no clip key in the sweep view

    def draw(self, runs: list[tuple[str, RunState]], options: ChartOptions) -> None:
        """Draws as a metric chart, titled with the objective and how many trials run."""
        super().draw(runs, options)
        drawn = sum(bool(state.series) for _, state in runs)
        if not runs:
            title = f"{self.objective or 'objective'} · no running trial"
        else:
            title = f"{self.objective} · {len(runs)} running"
            if drawn < len(runs):
                title += f", {len(runs) - drawn} without a value yet"
        self.set_ylabel(title)
