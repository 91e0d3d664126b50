"""The launch screen: where, device layout, runs dir and overrides; starts the engine and opens its run view.

Where: this machine, or one of the SSH hosts the app knows (``--remote``, or added with ``a`` in the picker); a
remote launch copies the task file to the host and starts the engine there detached (see
:meth:`xaxtui.sessions.SessionManager.launch_remote`), into the host's runs dir. The layouts come from
``xaxengine devices`` on the chosen machine (run in a thread, with a timeout): the ones it lists are enabled, the
others stay visible but disabled ("not available on this machine"). Until it answers, or when it fails, only the
single-device layout can be chosen. A non-single layout is passed to the engine as the overrides
``launch.layout=NAME`` plus ``launch.num_devices=N`` (or ``launch.num_processes=N`` for multi-process).
"""

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from xaxengine.launch_config import LAYOUTS
from xaxtui import engine
from xaxtui.keys import bindings
from xaxtui.messages import LaunchRequested
from xaxtui.remote import RemoteError, RemoteHost
from xaxtui.screens.base import ScopedScreen
from xaxtui.widgets.lifecycle import leaving

SINGLE = "single_device"
DEVICES_TIMEOUT_S = 60.0
UNAVAILABLE = "not available on this machine"
_DEVICES_CACHE: dict[tuple[str, ...], dict[str, Any]] = {}


def layout_overrides(layout: str, count: int) -> list[str]:
    """The engine overrides selecting ``layout`` with ``count`` devices (processes for multi-process).

    Args:
        layout: A layout name from :data:`xaxengine.launch_config.LAYOUTS`.
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


LOCAL = "local"


class DevicesLoaded(Message):
    """The answer of ``xaxengine devices`` on one machine (``devices`` None and ``error`` set when it failed)."""

    def __init__(self, devices: dict[str, Any] | None, error: str = "", where: str = LOCAL) -> None:
        """Carries the parsed answer or the error, and which machine answered."""
        super().__init__()
        self.devices = devices
        self.error = error
        self.where = where


class LaunchScreen(ScopedScreen):
    """Launches ``xaxengine run TASK overrides --runs-dir D --events -``."""

    KEY_SCOPE = "launch"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, task: Path, runs_dir: Path, remotes: Sequence[RemoteHost] = (), overrides: str = "") -> None:
        """Prepares a launch of ``task`` here (into ``runs_dir``) or on one of ``remotes``."""
        super().__init__()
        self.task_path = task
        self.runs_dir = runs_dir
        self.remotes = remotes
        self.overrides = overrides
        self.devices: dict[str, Any] = {}
        self.available: set[str] = {SINGLE}
        self.devices_checked = False

    def compose(self) -> ComposeResult:
        """Layouts, inputs, launch button."""
        with VerticalScroll(id="launch-box"):  # at 80x24 the overrides and the button are below the fold
            yield Static(f"[b]launch[/b] {self.task_path}")
            if self.remotes:
                yield Label("where")
                with RadioSet(id="where"):
                    yield RadioButton("this machine", value=True, name=LOCAL)
                    for index, host in enumerate(self.remotes):
                        yield RadioButton(f"{host.target.label} (ssh)", name=str(index))
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
        if leaving(self):
            return  # popped before its Mount was handled: the children are gone
        self.query_one("#overrides", Input).focus()
        self._check_devices()

    def selected_host(self) -> RemoteHost | None:
        """The SSH host to launch on, or None for this machine."""
        if not self.remotes:
            return None
        button = self.query_one("#where", RadioSet).pressed_button
        name = button.name if button is not None else LOCAL
        return None if name in (None, LOCAL) else self.remotes[int(name)]

    def _cache_key(self, host: RemoteHost | None) -> tuple[str, ...]:
        return tuple(engine.engine_cmd()) if host is None else ("ssh", host.target.label, host.remote_cmd)

    def _check_devices(self) -> None:
        host = self.selected_host()
        where = LOCAL if host is None else host.target.label
        self.devices_checked = False
        self.query_one("#devices-info", Static).update(f"checking devices on {where} (xaxengine devices)...")
        cached = _DEVICES_CACHE.get(self._cache_key(host))
        if cached is not None:
            self.post_message(DevicesLoaded(cached, where=where))
        else:
            self.load_devices(host)

    @on(RadioSet.Changed, "#where")
    def _where_changed(self) -> None:
        host = self.selected_host()
        runs_dir = self.query_one("#runs-dir", Input)
        runs_dir.disabled = host is not None
        runs_dir.value = str(self.runs_dir) if host is None else (host.target.runs_dir or "the host's runs dir")
        self._check_devices()

    @work(thread=True, exclusive=True, exit_on_error=False, group="devices")
    def load_devices(self, host: RemoteHost | None = None) -> None:
        """Runs ``xaxengine devices`` (over ssh for a host) in a thread and posts its parsed answer (or the failure)."""
        where = LOCAL if host is None else host.target.label
        try:
            raw = engine.call("devices", timeout=DEVICES_TIMEOUT_S) if host is None else host.call("devices")
            answer = orjson.loads(raw)
        except (engine.EngineError, RemoteError, orjson.JSONDecodeError) as error:
            self.post_message(DevicesLoaded(None, str(error), where))
            return
        if not isinstance(answer, dict) or not isinstance(answer.get("layouts"), list):
            self.post_message(DevicesLoaded(None, "xaxengine devices: no layouts in its answer", where))
            return
        _DEVICES_CACHE[self._cache_key(host)] = answer
        self.post_message(DevicesLoaded(answer, where=where))

    def on_devices_loaded(self, message: DevicesLoaded) -> None:
        """Enables the layouts the engine listed; the others stay disabled and say why."""
        host = self.selected_host()
        if message.where != (LOCAL if host is None else host.target.label):
            return  # the answer of a machine no longer selected
        self.devices_checked = True
        self.devices = message.devices or {}
        listed = {str(name) for name in self.devices.get("layouts") or ()}
        self.available = (listed & set(LAYOUTS)) | {SINGLE}
        info = self.query_one("#devices-info", Static)
        if message.devices is None:
            info.update(f"[yellow]{message.error or 'xaxengine devices failed'}: single device only[/]")
        else:
            info.update(devices_summary(self.devices))
        for button in self.query("#layout RadioButton").results(RadioButton):
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
        host = self.selected_host()
        if host is not None:
            self.post_message(
                LaunchRequested(self.task_path, [*layout_overrides(layout, count), *overrides], self.runs_dir, host)
            )
            return
        runs_dir = Path(self.query_one("#runs-dir", Input).value.strip() or "runs")
        self.post_message(LaunchRequested(self.task_path, [*layout_overrides(layout, count), *overrides], runs_dir))

    def action_back(self) -> None:
        """Goes back."""
        self.app.pop_screen()
