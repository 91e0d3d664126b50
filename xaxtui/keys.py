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
        scope: ``"app"`` or the screen it belongs to (``"run"``, ``"picker"``, ``"sweeps"``, ``"sweep"``, ``"config"``,
            ``"launch"``, and the dialogs ``"help"``, ``"quit"``, ``"prompt"``, ``"confirm"``). Each screen declares its
            scope as ``KEY_SCOPE``.
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
    Key("zoom_pane", "z", "Zoom pane", scope="run"),
    Key("open_chart", "f", "Full chart", scope="run"),
    Key("toggle_clip", "y", "Clip y", show=False, scope="run"),
    Key("prev_charts", "left_square_bracket", "Previous charts", show=False, scope="run"),
    Key("next_charts", "right_square_bracket", "Next charts", show=False, scope="run"),
    Key("back", "escape", "Back", scope="chart"),
    Key("zoom_in", "plus,equals_sign", "Zoom in", scope="chart"),
    Key("zoom_out", "minus", "Zoom out", scope="chart"),
    Key("cursor_left", "left,h", "Cursor left", show=False, scope="chart"),
    Key("cursor_right", "right,l", "Cursor right", show=False, scope="chart"),
    Key("pan_left", "shift+left,H", "Pan left", show=False, scope="chart"),
    Key("pan_right", "shift+right,L", "Pan right", show=False, scope="chart"),
    Key("reset_view", "0", "Reset zoom", scope="chart"),
    Key("toggle_clip", "y", "Clip y", scope="chart"),
    Key("prev_metric", "left_square_bracket", "Previous metric", show=False, scope="chart"),
    Key("next_metric", "right_square_bracket", "Next metric", show=False, scope="chart"),
    Key("open_media", "i", "Media", scope="run"),
    Key("prev_step", "left", "Prev step", scope="media"),
    Key("next_step", "right", "Next step", scope="media"),
    Key("prev_name", "up", "Prev name", scope="media"),
    Key("next_name", "down", "Next name", scope="media"),
    Key("first_step", "home", "First step", show=False, scope="media"),
    Key("last_step", "end", "Newest step (follow)", show=False, scope="media"),
    Key("scroll_body(1)", "pagedown", "Scroll text down", show=False, scope="media"),
    Key("scroll_body(-1)", "pageup", "Scroll text up", show=False, scope="media"),
    Key("back", "escape", "Back", scope="media"),
    Key("open_run", "enter", "Open", scope="picker"),
    Key("toggle_select", "space", "Select", scope="picker"),
    Key("compare", "C", "Compare", scope="picker"),
    Key("refresh", "r", "Refresh", show=False, scope="picker"),  # it rescans every 3 s anyway
    Key("new_run", "n", "New run", scope="picker"),
    Key("add_remote", "a", "Add remote", show=False, scope="picker"),
    Key("show_sweeps", "w", "Sweeps", scope="picker"),
    Key("filter_runs", "slash", "Filter", scope="picker"),
    Key("close_filter", "escape", "Clear and close the filter", show=False, scope="picker"),
    Key("cycle_sort", "o", "Sort by next column", show=False, scope="picker"),
    Key("reverse_sort", "O", "Reverse the sort", show=False, scope="picker"),
    Key("tag_run", "t", "Tag the run", show=False, scope="picker"),
    Key("note_run", "N", "Note on the run", show=False, scope="picker"),
    Key("archive_run", "A", "Archive / unarchive the run", show=False, scope="picker"),
    Key("toggle_archived", "H", "Show / hide archived runs", show=False, scope="picker"),
    Key("delete_run", "D", "Delete the run (asks first)", show=False, scope="picker"),
    Key("open_sweep", "enter", "Open", scope="sweeps"),
    Key("refresh", "r", "Refresh", scope="sweeps"),
    Key("back", "escape", "Back", scope="sweeps"),
    Key("open_trial", "enter", "Open trial", scope="sweep"),
    Key("stop_trial", "s", "Stop trial", scope="sweep"),
    Key("prune_trial", "p", "Prune", scope="sweep"),
    Key("raise_parallel", "plus", "Parallel+", scope="sweep"),
    Key("lower_parallel", "minus", "Parallel-", show=False, scope="sweep"),
    Key("stop_sweep", "x", "Stop sweep", scope="sweep"),
    Key("back", "escape", "Back", show=False, scope="sweep"),
    Key("save", "ctrl+s", "Save", scope="config"),
    Key("launch", "ctrl+l", "Launch", scope="config"),
    Key("reset_field", "ctrl+r", "Reset to default", scope="config"),  # the focused field; saving removes its key
    Key("search_fields", "ctrl+f", "Search the fields by name or help", show=False, scope="config"),
    Key("back", "escape", "Back", show=False, scope="config"),
    Key("launch", "ctrl+l", "Launch", scope="launch"),
    Key("back", "escape", "Back", scope="launch"),
    Key("close", "escape,q,question_mark", "Close", scope="help"),
    Key("stop", "s", "Stop", scope="quit"),
    Key("detach", "d", "Detach", scope="quit"),
    Key("cancel", "escape", "Cancel", scope="quit"),
    Key("leave", "q,escape", "Leave it running", scope="stopping"),
    Key("cancel", "escape", "Cancel", scope="prompt"),
    Key("yes", "y", "Yes", scope="confirm"),
    Key("no", "n,escape", "No", scope="confirm"),
    Key("back", "escape", "Runs", scope="waiting"),
)

SCOPES = {
    "app": "Everywhere",
    "run": "Run view",
    "chart": "Full-screen chart",
    "media": "Media pane",
    "picker": "Run picker",
    "sweeps": "Sweep list",
    "sweep": "Sweep view",
    "config": "Config editor",
    "launch": "Launch",
    "help": "Help",
    "quit": "Quit dialog",
    "stopping": "Stopping on quit",
    "prompt": "Prompt",
    "confirm": "Confirmation",
    "waiting": "Waiting for a run dir",
}


def keys_for(scope: str) -> list[Key]:
    """The registry rows of one scope."""
    return [k for k in KEYS if k.scope == scope]


SCREEN_SCOPES = frozenset(
    {"run", "chart", "media", "waiting", "picker", "sweeps", "sweep", "config", "launch"}
)  # full screens, not dialogs


def bindings(scope: str) -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """Textual bindings for one scope, with ids so keymaps can remap them.

    A full screen repeats the app's footer keys (``? Help``, ``q Quit``) first, as ``app.`` actions: the footer lists
    a screen's bindings before the app's, so on a narrow terminal the app's would be the ones cut off.
    """
    first = [k for k in keys_for("app") if k.show] if scope in SCREEN_SCOPES else []
    own = [
        Binding(k.key, k.action, k.description, show=k.show, id=f"{k.scope}.{k.action}", priority=_priority(k))
        for k in keys_for(scope)
    ]
    taken = {b.key for b in own}
    return [
        *(
            Binding(k.key, f"app.{k.action}", k.description, id=f"{scope}.app.{k.action}")
            for k in first
            if k.key not in taken
        ),
        *own,
    ]


def _priority(key: Key) -> bool:
    """Keys the screen takes before the focused widget: save (a text area would insert the letter)."""
    return key.key == "ctrl+s"


def table_enter(scope: str) -> list[Binding]:
    """A list screen's table binding for ``enter``, shown in the footer with the screen's description (``Open``).

    The footer lists the focused widget's bindings first and a table's own ``enter`` is hidden, so the screen's
    ``enter Open`` never showed. A priority binding on the screen would show it but could run before an arrow key
    sent just ahead of it reached the table (tmux ``send-keys Down Enter`` opened the wrong row); the table's own
    binding keeps the keys in order and selects the row under the cursor, which the screen opens.
    """
    key = next(k for k in keys_for(scope) if k.key == "enter")
    return [Binding("enter", "select_cursor", key.description, id=f"{scope}.table.{key.action}")]


def display_key(key: str) -> str:
    """A readable form of a key name (``question_mark`` -> ``?``)."""
    names = {
        "question_mark": "?",
        "slash": "/",
        "space": "space",
        "escape": "esc",
        "enter": "enter",
        "plus": "+",
        "minus": "-",
        "equals_sign": "=",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "left": "←",
        "right": "→",
        "shift+left": "shift+←",
        "shift+right": "shift+→",
    }
    return ", ".join(names.get(part, part) for part in key.split(","))


def keys_markdown() -> str:
    """``docs/keys.md``: every key of :data:`KEYS`, one table per scope (generated by ``make docs``)."""
    out = [
        "# Keys of xax-tui",
        "",
        "<!-- Generated by `make docs` from xaxtui/keys.py; a test fails when this file is out of date. -->",
        "",
        "The footer shows the main keys of the screen you are on, `?` lists them all and `ctrl+p` searches them.",
        "",
    ]
    for scope, title in SCOPES.items():
        out += [f"## {title}", "", "| Key | Action |", "|---|---|"]
        out += [f"| `{display_key(k.key)}` | {k.description} |" for k in keys_for(scope)]
        out.append("")
    return "\n".join(out)
