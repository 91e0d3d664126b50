"""Snapshots of the compare view's config diff and the run overview at 80x24 and 120x40 (UTC, no cursor blink).

Runs are generated in a temp dir (copies of the recorded ones with changed configs, and a failed run with a fixed
``stdout.log``) and opened by relative paths from there, so no absolute path is on screen. Every picture is taken
once the screen says it is done: the diff screen filled its table, the overview read ``stdout.log``.
"""

from pathlib import Path

import pytest

from tests.xaxtui.conftest import RUN_A, RUN_B, wait_for
from tests.xaxtui.generated_runs import copy_run, failed_run
from xaxtui.app import XaxTui
from xaxtui.screens.config_diff import ConfigDiffScreen
from xaxtui.screens.overview import OverviewScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.config_diff import ConfigDiffTable

TRACEBACK = """\
2025-11-25 09:00:01,000 INFO xaxengine: compiled train_step in 1.42 s
Traceback (most recent call last):
  File "/work/xax/xaxengine/task/trainer.py", line 118, in run
    state = self._loop(state)
            ^^^^^^^^^^^^^^^^^
  File "/work/xax/xaxengine/task/trainer.py", line 201, in _loop
    state = self.step(state, batch)
            ^^^^^^^^^^^^^^^^^^^^^^^
  File "/work/xax/tasks/mnist.py", line 88, in compute_loss
    raise ValueError("boom")
ValueError: boom
2025-11-25 09:00:01,010 ERROR xaxengine: run failed at step 3: ValueError: boom (traceback in stdout.log)
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp dir as the working directory (runs are opened by relative paths)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def _settle(pilot, predicate) -> None:
    for _ in range(2):
        await wait_for(pilot, lambda: predicate(pilot.app), timeout=60)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


def _run_view_done(app) -> bool:
    screen = app.screen
    return isinstance(screen, RunScreen) and all(s.state.finished for s in screen.sessions) and screen.drawn.is_set()


class TestConfigDiff:
    @staticmethod
    def _app(runs: Path) -> XaxTui:
        a = copy_run(runs, RUN_A, RUN_A.name)
        b = copy_run(runs, RUN_B, RUN_B.name)
        c = copy_run(runs, RUN_B, "20261125-080000-e5f6", hidden=128, **{"optimizer.lr": 0.0003})
        app = XaxTui(Path("runs"))
        app.call_later(lambda: app.show_runs([p.relative_to(runs.parent) for p in (a, b, c)]))
        return app

    @staticmethod
    async def _open_diff(pilot) -> None:
        await _settle(pilot, _run_view_done)
        await pilot.press("d")

        def filled(app) -> bool:
            return isinstance(app.screen, ConfigDiffScreen) and app.screen.query_one(ConfigDiffTable).row_count == 4

        await _settle(pilot, filled)

    def test_config_diff_80x24(self, snap_compare, in_tmp: Path):
        """Three compared runs: the keys that differ (lr, hidden, max_steps), one column per run headed by its label."""
        assert snap_compare(self._app(in_tmp / "runs"), terminal_size=(80, 24), run_before=self._open_diff)

    def test_config_diff_120x40(self, snap_compare, in_tmp: Path):
        """The same diff at 120x40, the run ids in the first row."""
        assert snap_compare(self._app(in_tmp / "runs"), terminal_size=(120, 40), run_before=self._open_diff)


class TestOverview:
    @staticmethod
    async def _open_overview(pilot) -> None:
        await _settle(pilot, _run_view_done)
        await pilot.press("o")

        def read(app) -> bool:
            return isinstance(app.screen, OverviewScreen) and app.screen.stdout is not None

        await _settle(pilot, read)

    def test_failed_run_overview_80x24(self, snap_compare, in_tmp: Path):
        """A failed run: status and reason in red, host, git, devices, versions (unknown where not recorded), the
        traceback from stdout.log scrolled to the exception, and the config table, all at 80x24."""
        run_dir = failed_run(in_tmp / "runs", TRACEBACK)
        app = XaxTui(run_dir.relative_to(in_tmp))
        assert snap_compare(app, terminal_size=(80, 24), run_before=self._open_overview)

    def test_failed_run_overview_120x40(self, snap_compare, in_tmp: Path):
        """The same overview at 120x40: the whole traceback and every config key fit."""
        run_dir = failed_run(in_tmp / "runs", TRACEBACK)
        app = XaxTui(run_dir.relative_to(in_tmp))
        assert snap_compare(app, terminal_size=(120, 40), run_before=self._open_overview)
