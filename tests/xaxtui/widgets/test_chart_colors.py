"""Readable charts on a dark and a light theme: axis, tick and title colors at 4.5:1 with the chart's background,
every series color at 3:1 (WCAG non-text contrast), a compared run's train and valid curves apart in lightness, and
the picker's run ids (text in their run's color) at 4.5:1.

Every color is read from what the drawn charts hold (their component styles and each dataset's style, a ``dim`` one
blended as Textual draws it) and measured against the chart's own background; the ratio is this file's own WCAG
formula, checked against two known values.
"""

from pathlib import Path

import pytest
from rich.color import Color
from rich.style import Style
from textual.constants import DIM_FACTOR
from textual.filter import dim_color

from tests.xaxtui.conftest import RUNS, wait_for
from tests.xaxtui.widgets.test_chart_view import loss_chart, open_settled, write_metrics_run
from tests.xaxtui.widgets.test_charts import colliding_run_ids
from xaxtui.app import XaxTui
from xaxtui.screens.picker import PickerScreen
from xaxtui.screens.run import RunScreen
from xaxtui.widgets.charts import PALETTE, MetricChart
from xaxtui.widgets.runs import RunsTable

THEMES = ("textual-dark", "textual-light")


def contrast_ratio(a: Color, b: Color) -> float:
    """The WCAG 2 contrast ratio of two colors."""

    def luminance(color: Color) -> float:
        r, g, b = (c / 255 for c in color.get_truecolor())
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_ratio_matches_wcag():
    assert round(contrast_ratio(Color.parse("#000000"), Color.parse("#ffffff")), 1) == 21.0
    assert round(contrast_ratio(Color.parse("#777777"), Color.parse("#ffffff")), 2) == 4.48


def background(chart: MetricChart) -> Color:
    return chart.background_colors[1].rich_color


def series_colors(chart: MetricChart) -> dict[str, Color]:
    """Legend name -> the color each drawn series has on screen (``dim`` blended into the background)."""
    out = {}
    for dataset, label in zip(chart._datasets, chart._labels, strict=True):
        style = Style.parse(getattr(dataset, "line_style", None) or dataset.marker_style)
        assert style.color is not None, label
        color = dim_color(background(chart), style.color, DIM_FACTOR) if style.dim else style.color
        out[label or f"#{len(out)}"] = color
    return out


async def use_theme(pilot, app, theme: str) -> None:
    """Switches the theme and waits until the charts were drawn again on the new background."""
    app.theme = theme
    want_dark = theme == "textual-dark"
    await wait_for(pilot, lambda: (background(loss_chart(app)).triplet.red < 128) == want_dark)  # ty: ignore
    await pilot.pause(0.2)
    await wait_for(pilot, lambda: app.screen.is_settled)


@pytest.mark.parametrize("theme", THEMES)
async def test_axis_tick_and_title_colors_are_readable(tmp_path: Path, theme: str):
    app = XaxTui(write_metrics_run(tmp_path, {"loss": [1.0, 0.5, 0.25] * 10}))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        await use_theme(pilot, app, theme)
        chart = loss_chart(app)
        for part in ("plot--axis", "plot--tick", "plot--label"):
            color = chart.get_component_rich_style(part).color
            ratio = contrast_ratio(color, background(chart)) if color is not None else 0.0
            assert ratio >= 4.5, (theme, part, color, background(chart), ratio)


@pytest.mark.parametrize("theme", THEMES)
async def test_a_single_runs_series_colors_are_readable(tmp_path: Path, theme: str):
    app = XaxTui(write_metrics_run(tmp_path, {"loss": [1.0, 0.5, 0.25] * 10}))
    async with app.run_test(size=(100, 32)) as pilot:
        await open_settled(pilot, app)
        await use_theme(pilot, app, theme)
        colors = series_colors(loss_chart(app))
        assert set(colors) == {"train", "valid"}
        ratios = {name: contrast_ratio(c, background(loss_chart(app))) for name, c in colors.items()}
        assert all(r >= 3.0 for r in ratios.values()), (theme, ratios)


@pytest.mark.parametrize("theme", THEMES)
async def test_compared_runs_series_colors_are_readable_and_each_runs_pair_differs(tmp_path: Path, theme: str):
    ids = colliding_run_ids(len(PALETTE))  # every palette slot in use, two runs preferring the same one
    dirs = [write_metrics_run(tmp_path, {"loss": [1.0 / (k + i + 1) for i in range(30)]}, r) for k, r in enumerate(ids)]
    app = XaxTui(tmp_path)
    app.call_later(lambda: app.show_runs(dirs))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and len(app.screen.sessions) == len(ids))
        await wait_for(pilot, lambda: app.screen.is_settled and all(s.state.finished for s in app.screen.sessions))
        await wait_for(pilot, lambda: len(loss_chart(app)._datasets) == 2 * len(ids))
        await use_theme(pilot, app, theme)
        chart = loss_chart(app)
        colors = series_colors(chart)
        assert len(colors) == 2 * len(ids), sorted(colors)
        bg = background(chart)
        low = {name: round(contrast_ratio(c, bg), 2) for name, c in colors.items() if contrast_ratio(c, bg) < 3.0}
        assert not low, (theme, bg, low)
        trains = {name.removesuffix(" train"): c for name, c in colors.items() if name.endswith(" train")}
        assert len({c.triplet for c in trains.values()}) == len(ids)  # ty: ignore[unresolved-attribute]
        for run, train in trains.items():
            valid = colors[f"{run} valid"]
            # told apart by lightness: at least 1.5:1 between the two curves of one run
            assert contrast_ratio(train, valid) >= 1.5, (theme, run, train, valid)


@pytest.mark.parametrize("theme", THEMES)
async def test_the_pickers_run_ids_are_readable_in_their_run_color(theme: str):
    app = XaxTui(RUNS)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, PickerScreen) and app.screen.query_one(RunsTable).row_count
        )
        table = app.screen.query_one(RunsTable)
        app.theme = theme
        hues = {}

        def readable() -> bool:
            bg = table.background_colors[1].rich_color
            if (bg.triplet.red < 128) != (theme == "textual-dark"):  # ty: ignore[unresolved-attribute]
                return False  # the new theme's styles are not applied yet
            cells = [table.get_row_at(i)[1] for i in range(table.row_count)]
            colors = {c.plain: Style.parse(str(c.style)).color for c in cells}
            hues.update(colors)
            return all(c is not None and contrast_ratio(c, bg) >= 4.5 for c in colors.values())

        await wait_for(pilot, readable)
        assert len(hues) == table.row_count >= 2
