"""Leaving a screen in the same tick as opening it (or the tick after): no crash in any mount handler.

When a screen is popped before its widgets handled their ``Mount``, Textual prunes the children first and the
handlers then ran on an empty tree: textual-plot's ``PlotWidget.on_mount`` raised ``No nodes match 'Grid'`` (seen
with the sweep view), and the screens' own ``on_mount`` queries raised the same way. Every screen is pushed and popped
at once several times; the app must keep running with no exception.
"""

from collections.abc import Callable

import pytest
from textual.screen import Screen

from tests.xaxtui.conftest import RUN_A, SWEEP_DIR, SWEEP_RUNS, TASK, wait_for
from xaxtui.app import XaxTui
from xaxtui.screens.chart import ChartScreen
from xaxtui.screens.config import ConfigScreen
from xaxtui.screens.config_diff import ConfigDiffScreen
from xaxtui.screens.launch import LaunchScreen
from xaxtui.screens.media import MediaScreen
from xaxtui.screens.overview import OverviewScreen
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.screens.sweep import SweepScreen
from xaxtui.screens.sweeps import SweepsScreen
from xaxtui.screens.waiting import WaitingScreen
from xaxtui.widgets.charts import ChartOptions

SIZE = (110, 32)

SCREENS: dict[str, Callable[[XaxTui], Screen]] = {
    "run": lambda app: RunScreen([app.manager.attach(RUN_A)]),
    "compare": lambda app: RunScreen(
        [app.manager.attach(RUN_A), app.manager.attach(RUN_A.parent / "20261125-070000-c3d4")]
    ),
    "chart": lambda app: ChartScreen([app.manager.attach(RUN_A)], "loss", ["loss"], ChartOptions()),
    "media": lambda app: MediaScreen(app.manager.attach(RUN_A)),
    "overview": lambda app: OverviewScreen(app.manager.attach(RUN_A)),
    "diff": lambda app: ConfigDiffScreen(
        [app.manager.attach(RUN_A), app.manager.attach(RUN_A.parent / "20261125-070000-c3d4")]
    ),
    "sweep": lambda app: SweepScreen(SWEEP_DIR),
    "sweeps": lambda app: SweepsScreen(SWEEP_RUNS),
    "picker": lambda app: PickerScreen(SWEEP_RUNS),
    "config": lambda app: ConfigScreen(TASK),
    "launch": lambda app: LaunchScreen(TASK, SWEEP_RUNS),
    "waiting": lambda app: WaitingScreen(SWEEP_RUNS / "not-yet"),
}


@pytest.mark.parametrize("name", SCREENS)
async def test_popping_a_screen_in_the_tick_it_was_pushed_does_not_crash(name: str):
    make = SCREENS[name]
    app = XaxTui(SWEEP_RUNS)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        first = app.screen
        for _ in range(5):
            app.push_screen(make(app))
            app.pop_screen()  # same tick: the pushed screen's widgets have not handled their Mount yet
            await pilot.pause()
        for _ in range(3):  # a tick later, while the charts mount
            app.push_screen(make(app))
            await pilot.pause()
            app.pop_screen()
        await pilot.pause(0.3)
        assert app.screen is first and app.is_running  # an exception in a handler would have ended the app
