"""The stats pane: GPU rows appear when a GPU reports, and an update racing their mount never crashes the app."""

from textual.app import App, ComposeResult

from tests.xaxtui.conftest import RUN_A
from xaxengine.protocol import read_events
from xaxtui.state import RunState, fold
from xaxtui.widgets.stats import StatRow, StatsPane


class PaneApp(App):
    def compose(self) -> ComposeResult:
        yield StatsPane()


async def test_a_second_update_before_the_new_gpu_rows_are_composed_shows_them_instead_of_crashing():
    """Seen opening a remote run: two updates in one tick; the second asked for the new rows' labels too early."""
    state = fold(RunState(), read_events(RUN_A / "events.jsonl"))
    assert state.gpus, "the recorded run reports a GPU"
    app = PaneApp()
    async with app.run_test(size=(80, 12)) as pilot:
        pane = app.query_one(StatsPane)
        pane.update_state(state)
        pane.update_state(state)  # same tick: the GPU rows are in the DOM, their Label and Sparkline not yet
        await pilot.pause()
        rows = list(pane.query(".gpu-row").results(StatRow))
        assert len(rows) == 2 * len(state.gpus)
        labels = [str(row.query_one("Label").render()) for row in rows]
        assert labels[0].startswith("GPU0") and labels[1].startswith("mem ")
