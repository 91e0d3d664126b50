"""The compare view names each run by what differs in the configs (legends, header, full chart) and has a config diff
(``d``); copies of the recorded runs with changed configs, opened in the app and driven with Pilot."""

import json
from pathlib import Path

from tests.xaxtui.conftest import RUN_A, RUN_B, wait_for
from tests.xaxtui.generated_runs import copy_run
from xaxtui.app import XaxTui
from xaxtui.screens.chart import ChartScreen
from xaxtui.screens.config_diff import ConfigDiffScreen
from xaxtui.screens.run import RunScreen
from xaxtui.state import RunState, fold
from xaxtui.widgets.charts import MetricChart
from xaxtui.widgets.config_diff import ConfigDiffTable, compare_labels, compared, diff_rows, id_tails
from xaxtui.widgets.header import RunHeader

A, B, C = "20261125-060000-a1b2", "20261125-070000-c3d4", "20261125-080000-e5f6"


def _state(run_dir: Path) -> RunState:
    events = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return fold(RunState(), events)


def _labels(*run_dirs: Path) -> list[str]:
    return compare_labels(compared([(d.name, _state(d)) for d in run_dirs]))


def test_two_runs_are_named_by_the_keys_that_differ():
    assert _labels(RUN_A, RUN_B) == ["max_steps=300 lr=0.002", "max_steps=200 lr=0.001"]  # config order on ties


def test_three_runs_widest_spread_first_and_at_most_what_fits(tmp_path: Path):
    run_c = copy_run(tmp_path, RUN_B, C, hidden=128, **{"optimizer.lr": 0.0003})
    # lr takes three values, hidden and max_steps two: a third key would make "lr=0.002 hidden=64 max_steps=300"
    # longer than a label may be, so two keys name every run
    assert _labels(RUN_A, RUN_B, run_c) == ["lr=0.002 hidden=64", "lr=0.001 hidden=64", "lr=0.0003 hidden=128"]
    rows = diff_rows(compared([(d.name, _state(d)) for d in (RUN_A, RUN_B, run_c)]))
    assert rows == [
        ("optimizer.lr", ["0.002", "0.001", "0.0003"]),
        ("hidden", ["64", "64", "128"]),
        ("train.max_steps", ["300", "200", "200"]),
    ]


def test_identical_configs_fall_back_to_the_run_id_tail(tmp_path: Path):
    run_c = copy_run(tmp_path, RUN_B, C)
    assert _labels(RUN_B, run_c) == ["c3d4", "e5f6"]
    assert diff_rows(compared([(d.name, _state(d)) for d in (RUN_B, run_c)])) == []
    twin = copy_run(tmp_path, RUN_B, "20261126-070000-c3d4")  # the same last part: the tail grows until they differ
    assert _labels(RUN_B, twin) == ["20261125-070000-c3d4", "20261126-070000-c3d4"]
    assert id_tails(["x-1", "y-1", "z-2"]) == ["x-1", "y-1", "z-2"]


def test_more_keys_when_fewer_do_not_tell_runs_apart_then_the_id_tail(tmp_path: Path):
    run_c = copy_run(tmp_path, RUN_B, C, hidden=128)
    run_d = copy_run(tmp_path, RUN_B, "20261125-090000-0d0d", hidden=128, **{"checkpoint.save_every_n_steps": 7})
    # one key fits, two tell the runs apart: two it is, though the labels get longer than MAX_LABEL
    assert _labels(RUN_B, run_c, run_d) == [
        "hidden=64 save_every_n_steps=100",
        "hidden=128 save_every_n_steps=100",
        "hidden=128 save_every_n_steps=7",
    ]
    twin = copy_run(tmp_path, RUN_B, "20261125-100000-0e0e", hidden=128)  # no key tells it from C: its id tail does
    assert _labels(RUN_B, run_c, twin) == ["hidden=64", "hidden=128 e5f6", "hidden=128 0e0e"]
    no_start = RunState()  # a run before its run_start: its name until then
    assert compare_labels(compared([("launch-1", no_start), (B, _state(RUN_B))])) == ["launch-1", "c3d4"]


async def _compare_view(pilot, app: XaxTui, runs: list[Path]) -> RunScreen:
    app.show_runs(runs)
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, RunScreen)
            and all(s.state.finished for s in app.screen.sessions)
            and app.screen.is_settled
        ),
    )
    assert isinstance(app.screen, RunScreen)
    return app.screen


async def test_compare_view_legends_header_full_chart_and_diff_table_use_the_labels(tmp_path: Path):
    run_c = copy_run(tmp_path, RUN_B, C, hidden=128, **{"optimizer.lr": 0.0003})
    app = XaxTui(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await _compare_view(pilot, app, [RUN_A, RUN_B, run_c])
        from xaxtui.commands import ActionCommands

        assert "config_diff" in {k.action for k in ActionCommands(view).entries()}  # compared: the palette has it
        labels = ["lr=0.002 hidden=64", "lr=0.001 hidden=64", "lr=0.0003 hidden=128"]
        loss = next(c for c in view.query(MetricChart) if c.metric == "loss")
        assert [name for name, *_ in loss.raw] == [
            f"{label} {phase}" for label in labels for phase in ("train", "valid")
        ]
        styles = {name.rsplit(" ", 1)[0]: style for name, style, *_ in loss.raw if name.endswith("train")}
        assert len(set(styles.values())) == 3  # a color per run
        header = str(view.query_one(RunHeader).content)
        assert f"comparing 3 runs (d: config diff): {' · '.join(labels)}" in header

        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws > 0)
        assert [name for name, *_ in app.screen.chart.raw][::2] == [f"{label} train" for label in labels]
        await pilot.press("escape")

        await wait_for(pilot, lambda: app.screen is view)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigDiffScreen))
        diff = app.screen
        assert isinstance(diff, ConfigDiffScreen)
        table = diff.query_one(ConfigDiffTable)
        assert [str(c.label) for c in table.columns.values()] == ["key", *labels]
        cells = [[str(c) for c in table.get_row(key)] for key in table.rows]
        assert cells == [
            ["run id", A, B, C],
            ["optimizer.lr", "0.002", "0.001", "0.0003"],
            ["hidden", "64", "64", "128"],
            ["train.max_steps", "300", "200", "200"],
        ]
        assert "3 of 7 config keys differ across 3 runs" in str(diff.query_one("#diff-title").content)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is view)


async def test_identical_configs_diff_says_so_and_a_single_run_has_no_diff_key(tmp_path: Path):
    run_c = copy_run(tmp_path, RUN_B, C)
    app = XaxTui(tmp_path)
    async with app.run_test(size=(120, 32)) as pilot:
        view = await _compare_view(pilot, app, [RUN_B, run_c])
        loss = next(c for c in view.query(MetricChart) if c.metric == "loss")
        assert [name for name, *_ in loss.raw][::2] == ["c3d4 train", "e5f6 train"]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigDiffScreen))
        assert app.screen.rows == []
        assert "configs are identical" in str(app.screen.query_one("#diff-title").content)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is view)
        await pilot.press("escape")
    app = XaxTui(RUN_A)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_settled)
        view = app.screen
        assert isinstance(view, RunScreen)
        assert view.check_action("config_diff", ()) is False  # hidden from the footer
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is view
        loss = next(c for c in view.query(MetricChart) if c.metric == "loss")
        assert [name for name, *_ in loss.raw] == ["train", "valid"]  # alone: phases only, as before
