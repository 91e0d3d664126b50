"""The launch screen: device layout, runs dir and overrides; starts the engine and opens its run view."""

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from xaxtui.engine import LAYOUTS
from xaxtui.keys import bindings

if TYPE_CHECKING:
    from xaxtui.app import XaxTui


class LaunchScreen(Screen[None]):
    """Launches ``xaxengine run TASK overrides --runs-dir D --events -``."""

    BINDINGS = bindings("launch")

    def __init__(self, task: Path, runs_dir: Path, overrides: str = "") -> None:
        """Prepares a launch of ``task``."""
        super().__init__()
        self.task_path = task
        self.runs_dir = runs_dir
        self.overrides = overrides

    @property
    def xax(self) -> "XaxTui":
        """The app, typed."""
        return cast("XaxTui", self.app)

    def compose(self) -> ComposeResult:
        """Layouts, inputs, launch button."""
        with Vertical(id="launch-box"):
            yield Static(f"[b]launch[/b] {self.task_path}")
            yield Label("device layout")
            with RadioSet(id="layout"):
                for name, title, built in LAYOUTS:
                    label = title if built else f"{title} (not built yet)"
                    yield RadioButton(label, value=name == "single_device", disabled=not built, name=name)
            yield Label("runs dir")
            yield Input(str(self.runs_dir), id="runs-dir")
            yield Label("overrides (section.field=value ...)")
            yield Input(self.overrides, placeholder="train.max_steps=200 optimizer.lr=1e-3", id="overrides")
            yield Static("", id="launch-error")
            yield Button("Launch [ctrl+l]", id="launch-button", variant="success")
        yield Footer()

    def on_mount(self) -> None:
        """Focuses the overrides."""
        self.query_one("#overrides", Input).focus()

    @on(Button.Pressed, "#launch-button")
    @on(Input.Submitted)
    def action_launch(self) -> None:
        """Starts the engine and switches to its run view."""
        try:
            overrides = shlex.split(self.query_one("#overrides", Input).value)
        except ValueError as error:
            self.query_one("#launch-error", Static).update(f"[red]overrides: {error}[/]")
            return
        bad = [o for o in overrides if "=" not in o]
        if bad:
            self.query_one("#launch-error", Static).update(f"[red]not section.field=value: {' '.join(bad)}[/]")
            return
        runs_dir = Path(self.query_one("#runs-dir", Input).value.strip() or "runs")
        self.xax.launch(self.task_path, overrides, runs_dir)

    def action_back(self) -> None:
        """Goes back."""
        self.app.pop_screen()
