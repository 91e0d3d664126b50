"""The one key registry: bindings, the footer, the help screen and the command palette all read :data:`KEYS`."""

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    """One action and the key that triggers it.

    Attributes:
        action: Textual action name (``"toggle_log_y"`` calls ``action_toggle_log_y``).
        key: Key or comma-separated keys.
        description: Short text for the footer, help and palette.
        show: Whether the footer shows it.
        scope: ``"app"`` or the screen it belongs to (``"run"``, ``"picker"``, ``"config"``, ``"launch"``).
    """

    action: str
    key: str
    description: str
    show: bool = True
    scope: str = "app"


KEYS: tuple[Key, ...] = (
    Key("help", "question_mark", "Help"),
    Key("command_palette", "ctrl+p", "Commands", show=False),
    Key("quit", "q", "Quit"),
    Key("open_picker", "R", "Runs", show=False),
    Key("back", "escape", "Back", show=False, scope="run"),
    Key("stop_run", "s", "Stop", scope="run"),
    Key("checkpoint_now", "c", "Checkpoint", scope="run"),
    Key("resume_run", "u", "Resume", scope="run"),
    Key("toggle_log_y", "l", "Log y", scope="run"),
    Key("toggle_x_axis", "x", "Step/time", scope="run"),
    Key("cycle_smoothing", "m", "Smooth", scope="run"),
    Key("filter_metrics", "slash", "Filter", scope="run"),
    Key("open_run", "enter", "Open", scope="picker"),
    Key("toggle_select", "space", "Select", scope="picker"),
    Key("compare", "C", "Compare", scope="picker"),
    Key("refresh", "r", "Refresh", scope="picker"),
    Key("new_run", "n", "New run", scope="picker"),
    Key("add_remote", "a", "Add remote", show=False, scope="picker"),
    Key("save", "ctrl+s", "Save", scope="config"),
    Key("launch", "ctrl+l", "Launch", scope="config"),
    Key("back", "escape", "Back", show=False, scope="config"),
    Key("launch", "ctrl+l", "Launch", scope="launch"),
    Key("back", "escape", "Back", scope="launch"),
)

SCOPES = {"app": "Everywhere", "run": "Run view", "picker": "Run picker", "config": "Config editor", "launch": "Launch"}


def keys_for(scope: str) -> list[Key]:
    """The registry rows of one scope."""
    return [k for k in KEYS if k.scope == scope]


def bindings(scope: str) -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """Textual bindings for one scope, with ids so keymaps can remap them."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=f"{k.scope}.{k.action}", priority=k.key == "ctrl+s")
        for k in keys_for(scope)
    ]


def display_key(key: str) -> str:
    """A readable form of a key name (``question_mark`` -> ``?``)."""
    names = {"question_mark": "?", "slash": "/", "space": "space", "escape": "esc", "enter": "enter"}
    return ", ".join(names.get(part, part) for part in key.split(","))
