"""The run view redraws on RunUpdated only (no polling), at most every REDRAW_MIN_S, and always shows the last one."""

import time

from tests.xaxtui.conftest import RUN_A, wait_for
from xaxengine.protocol import make_event
from xaxtui.app import XaxTui
from xaxtui.messages import RunUpdated
from xaxtui.screens.run import REDRAW_MIN_S, RunScreen
from xaxtui.session import RunSession
from xaxtui.state import fold
from xaxtui.widgets.header import RunHeader

SIZE = (100, 32)


def _step(session: RunSession, step: int) -> None:
    """Folds one train point at ``step`` into the session, as a delivered batch would."""
    ev = make_event(session.state.last_seq + 1, "scalars", t=session.state.last_t + 1, step=step, phase="train")
    ev["values"] = {"loss": 0.1}
    fold(session.state, [ev])
    session.version += 1


async def _settled_run_view(pilot) -> RunScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.session.state.finished)
    screen = app.screen
    assert isinstance(screen, RunScreen)
    await wait_for(pilot, lambda: screen.is_settled)
    return screen


async def test_nothing_redraws_without_run_updated_and_one_update_redraws():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _settled_run_view(pilot)
        draws = screen.draws
        _step(screen.session, 301)  # changed, but nobody said so: a polling view would redraw
        await pilot.pause(0.3)
        assert screen.draws == draws and not screen.is_settled
        assert "step 301" not in str(screen.query_one(RunHeader).render())
        screen.post_message(RunUpdated(screen.session))
        await wait_for(pilot, lambda: screen.is_settled)
        assert screen.draws == draws + 1 and "step 301/300" in str(screen.query_one(RunHeader).render())


async def test_a_burst_of_updates_gets_few_redraws_and_the_last_one_shows():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _settled_run_view(pilot)
        draws = screen.draws
        for step in range(301, 501):
            _step(screen.session, step)
            screen.post_message(RunUpdated(screen.session))
        await wait_for(pilot, lambda: screen.is_settled)
        assert screen.draws - draws <= 3 and "step 500/300" in str(screen.query_one(RunHeader).render())


async def test_steady_updates_are_throttled_with_a_trailing_redraw():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _settled_run_view(pilot)
        draws = screen.draws
        start = time.monotonic()
        for step in range(301, 341):
            _step(screen.session, step)
            screen.post_message(RunUpdated(screen.session))
            await pilot.pause(0.005)
        await wait_for(pilot, lambda: screen.is_settled)
        elapsed = time.monotonic() - start
        assert 2 <= screen.draws - draws <= elapsed / REDRAW_MIN_S + 2
        assert "step 340/300" in str(screen.query_one(RunHeader).render())


async def test_quitting_ends_the_source_threads():
    app = XaxTui(RUN_A)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _settled_run_view(pilot)
        source = screen.session.source
        assert not source.closed.is_set()
    assert source.closed.is_set() and screen.session.channel is not None and screen.session.channel.closed
