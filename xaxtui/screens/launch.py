"""The launch screen: device layout, runs dir and overrides; starts the engine and opens its run view.

The layouts come from ``xaxengine devices`` (run in a thread, with a timeout): the ones it lists are enabled, the
others stay visible but disabled ("not available on this machine"). Until it answers, or when it fails, only the
single-device layout can be chosen. A non-single layout is passed to the engine as the overrides
``launch.layout=NAME`` plus ``launch.num_devices=N`` (or ``launch.num_processes=N`` for multi-process).
"""

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import orjson
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from xaxtui import engine
from xaxtui.engine import LAYOUTS
from xaxtui.keys import bindings

if TYPE_CHECKING:
    from xaxtui.app import XaxTui

SINGLE = "single_device"
DEVICES_TIMEOUT_S = 60.0
UNAVAILABLE = "not available on this machine"
_DEVICES_CACHE: dict[tuple[str, ...], dict[str, Any]] = {}


def layout_overrides(layout: str, count: int) -> list[str]:
    """The engine overrides selecting ``layout`` with ``count`` devices (processes for multi-process).

    Args:
        layout: A layout name from :data:`xaxtui.engine.LAYOUTS`.
        count: Devices per process, or processes for ``multi_process``.

    Returns:
        Nothing for the single-device layout (the default, and the only one older engines accept).
    """
    if layout == SINGLE:
        return []
    key = "num_processes" if layout == "multi_process" else "num_devices"
    return [f"launch.layout={layout}", f"launch.{key}={count}"]


def default_count(layout: str, devices: dict[str, Any]) -> int:
    """A sensible N for a layout: every device for data parallel, every core for multi-CPU, 2 processes."""
    if layout == "multi_device":
        return int(devices.get("num_devices") or len(devices.get("devices") or ()) or 1)
    if layout == "multi_cpu":
        return max(1, min(8, int(devices.get("max_cpu_devices") or 1)))
    return 2 if layout == "multi_process" else 1


def devices_summary(devices: dict[str, Any]) -> str:
    """``cpu: 2 devices (TFRT_CPU)`` from a ``xaxengine devices`` answer."""
    found = devices.get("devices") or []
    kinds = ", ".join(sorted({str(d.get("kind", "?")) for d in found if isinstance(d, dict)}))
    plural = "device" if len(found) == 1 else "devices"
    return f"{devices.get('platform', '?')}: {len(found)} {plural}" + (f" ({kinds})" if kinds else "")


class DevicesLoaded(Message):
    """The answer of ``xaxengine devices`` (``devices`` is None and ``error`` set when it failed)."""

    def __init__(self, devices: dict[str, Any] | None, error: str = "") -> None:
        """Carries the parsed answer or the error."""
        super().__init__()
        self.devices = devices
        self.error = error


class LaunchScreen(Screen[None]):
    """Launches ``xaxengine run TASK overrides --runs-dir D --events -``."""

    BINDINGS = bindings("launch")

    def __init__(self, task: Path, runs_dir: Path, overrides: str = "") -> None:
        """Prepares a launch of ``task``."""
        super().__init__()
        self.task_path = task
        self.runs_dir = runs_dir
        self.overrides = overrides
        self.devices: dict[str, Any] = {}
        self.available: set[str] = {SINGLE}
        self.devices_checked = False

    @property
    def xax(self) -> "XaxTui":
        """The app, typed."""
        return cast("XaxTui", self.app)

    def compose(self) -> ComposeResult:
        """Layouts, inputs, launch button."""
        with Vertical(id="launch-box"):
            yield Static(f"[b]launch[/b] {self.task_path}")
            yield Label("device layout")
            yield Static("checking devices (xaxengine devices)...", id="devices-info")
            with RadioSet(id="layout"):
                for name, title in LAYOUTS.items():
                    label = title if name == SINGLE else f"{title} (checking...)"
                    yield RadioButton(label, value=name == SINGLE, disabled=name != SINGLE, name=name)
            yield Label("devices per process, or processes for multi-process (N)")
            yield Input("1", type="integer", id="layout-count", disabled=True)
            yield Label("runs dir")
            yield Input(str(self.runs_dir), id="runs-dir")
            yield Label("overrides (section.field=value ...)")
            yield Input(self.overrides, placeholder="train.max_steps=200 optimizer.lr=1e-3", id="overrides")
            yield Static("", id="launch-error")
            yield Button("Launch [ctrl+l]", id="launch-button", variant="success")
        yield Footer()

    def on_mount(self) -> None:
        """Focuses the overrides and asks the engine which layouts this machine allows."""
        self.query_one("#overrides", Input).focus()
        cached = _DEVICES_CACHE.get(tuple(engine.engine_cmd()))
        if cached is not None:
            self.post_message(DevicesLoaded(cached))
        else:
            self.load_devices()

    @work(thread=True, exclusive=True, exit_on_error=False, group="devices")
    def load_devices(self) -> None:
        """Runs ``xaxengine devices`` in a thread and posts its parsed answer (or the failure)."""
        try:
            answer = orjson.loads(engine.call("devices", timeout=DEVICES_TIMEOUT_S))
        except (engine.EngineError, orjson.JSONDecodeError) as error:
            self.post_message(DevicesLoaded(None, str(error)))
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("layouts"), list):
            self.post_message(DevicesLoaded(None, "xaxengine devices: no layouts in its answer"))
            return
        _DEVICES_CACHE[tuple(engine.engine_cmd())] = answer
        self.post_message(DevicesLoaded(answer))

    def on_devices_loaded(self, message: DevicesLoaded) -> None:
        """Enables the layouts the engine listed; the others stay disabled and say why."""
        self.devices_checked = True
        self.devices = message.devices or {}
        listed = {str(name) for name in self.devices.get("layouts") or ()}
        self.available = (listed & set(LAYOUTS)) | {SINGLE}
        info = self.query_one("#devices-info", Static)
        if message.devices is None:
            info.update(f"[yellow]{message.error or 'xaxengine devices failed'}: single device only[/]")
        else:
            info.update(devices_summary(self.devices))
        for button in self.query(RadioButton):
            name = button.name or ""
            title = LAYOUTS[name]
            button.disabled = name not in self.available
            button.label = title if name in self.available else f"{title} ({UNAVAILABLE})"
        self._layout_changed()

    def selected_layout(self) -> str:
        """The chosen layout name (single device when nothing usable is chosen)."""
        button = self.query_one("#layout", RadioSet).pressed_button
        name = button.name if button is not None else None
        return name if name in self.available else SINGLE

    @on(RadioSet.Changed, "#layout")
    def _layout_changed(self) -> None:
        layout = self.selected_layout()
        count = self.query_one("#layout-count", Input)
        count.disabled = layout == SINGLE
        count.value = str(default_count(layout, self.devices))

    @on(Button.Pressed, "#launch-button")
    @on(Input.Submitted)
    def action_launch(self) -> None:
        """Starts the engine and switches to its run view."""
        error = self.query_one("#launch-error", Static)
        try:
            overrides = shlex.split(self.query_one("#overrides", Input).value)
        except ValueError as problem:
            error.update(f"[red]overrides: {problem}[/]")
            return
        bad = [o for o in overrides if "=" not in o]
        if bad:
            error.update(f"[red]not section.field=value: {' '.join(bad)}[/]")
            return
        layout = self.selected_layout()
        count_text = self.query_one("#layout-count", Input).value.strip()
        if layout != SINGLE and (not count_text.isdigit() or int(count_text) < 1):
            error.update(f"[red]N must be a positive integer for {layout}, not {count_text!r}[/]")
            return
        count = int(count_text) if count_text.isdigit() else 1
        runs_dir = Path(self.query_one("#runs-dir", Input).value.strip() or "runs")
        self.xax.launch(self.task_path, [*layout_overrides(layout, count), *overrides], runs_dir)

    def action_back(self) -> None:
        """Goes back."""
        self.app.pop_screen()
