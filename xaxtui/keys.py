"""The one key registry: bindings, the footer, the help screen and the command palette all read :data:`KEYS`."""

from dataclasses import dataclass, replace

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    """One action and the key that triggers it.

    Attributes:
        action: Textual action name (``"toggle_log_y"`` calls ``action_toggle_log_y``).
        key: Key or comma-separated keys.
        description: Short label for the footer and the palette (``Smooth``).
        help: One line saying what the key does, for ``?``, the palette and ``docs/keys.md`` (what ``m`` cycles
            through, how to scroll).
        show: Whether the footer shows it.
        scope: ``"app"`` or the screen it belongs to (``"run"``, ``"picker"``, ``"sweeps"``, ``"sweep"``, ``"config"``,
            ``"launch"``, and the dialogs ``"help"``, ``"quit"``, ``"prompt"``, ``"confirm"``). Each screen declares its
            scope as ``KEY_SCOPE``. ``"focus"`` lists the keys Textual's own widgets handle on every screen.
        bound: Whether :func:`bindings` binds it (False for keys a widget handles itself: an input's ``enter``).
    """

    action: str
    key: str
    description: str
    help: str
    show: bool = True
    scope: str = "app"
    bound: bool = True


def _in(scope: str, *keys: Key) -> tuple[Key, ...]:
    """The rows of one scope."""
    return tuple(replace(k, scope=scope) for k in keys)


KEYS: tuple[Key, ...] = (
    *_in(
        "app",
        Key("help", "question_mark", "Help", "Lists the keys of this screen first, then of every other screen"),
        Key("command_palette", "ctrl+p", "Commands", "Searches this screen's actions by name and runs one", False),
        Key("quit", "q", "Quit", "Quits; asks first while runs launched from here still train (stop or detach)"),
        Key("open_picker", "R", "Runs", "Opens the run picker: every run of the runs dir and remote hosts", False),
    ),
    *_in(
        "run",
        Key("back", "escape", "Back", "Closes the metric filter, or goes back to the previous screen", False),
        Key("stop_run", "s", "Stop", "Stops the run gracefully: it checkpoints the current step, then exits"),
        Key("checkpoint_now", "c", "Checkpoint", "Asks the engine to save a checkpoint now"),
        Key("resume_run", "u", "Resume", "Resumes a stopped run from its last checkpoint and follows it here"),
        Key("toggle_log_y", "l", "Log y", "Switches the charts' y axis between linear and log10"),
        Key("toggle_x_axis", "x", "Step/time", "Switches the charts' x axis between step and time since the start"),
        Key("cycle_smoothing", "m", "Smooth", "Cycles the curves' EMA smoothing: off → 0.6 → 0.9 → 0.99 → off"),
        Key("filter_metrics", "slash", "Filter", "Shows only metrics matching a regex; enter applies, esc closes"),
        Key("zoom_pane", "z", "Zoom pane", "Fills the screen with the focused pane (tab moves focus); z restores"),
        Key("open_chart", "f", "Full chart", "Opens the first chart full screen: zoom, pan, value cursor (or click)"),
        Key(
            "toggle_clip", "y", "Clip y", "Clips y to the 1st-99th percentiles of a diverging run, or shows all", False
        ),
        Key(
            "prev_charts", "left_square_bracket", "Previous charts", "Previous page of charts (when not all fit)", False
        ),
        Key(
            "next_charts", "right_square_bracket", "Next charts", "Next page of charts (the header says N of M)", False
        ),
        Key("open_media", "i", "Media", "Opens the media pane: logged images, text samples and histograms"),
        Key("open_overview", "o", "Overview", "Host, git, devices, versions, the config; a failed run's traceback"),
        Key("config_diff", "d", "Config diff", "The config keys whose values differ between the compared runs"),
    ),
    *_in(
        "overview",
        Key("filter_config", "slash", "Filter the config", "Moves to the config filter: keys or values containing it"),
        Key("back", "escape", "Back", "Clears the filter when it has focus, else back to the run view"),
    ),
    *_in("diff", Key("back", "escape", "Back", "Back to the compare view")),
    *_in(
        "chart",
        Key("back", "escape", "Back", "Back to the run view"),
        Key("zoom_in", "plus,equals_sign", "Zoom in", "Halves the x range shown, around the cursor"),
        Key("zoom_out", "minus", "Zoom out", "Doubles the x range shown, around the cursor"),
        Key(
            "cursor_left",
            "left,h",
            "Cursor left",
            "Moves the cursor a column left; the readout lists every value",
            False,
        ),
        Key("cursor_right", "right,l", "Cursor right", "Moves the cursor a column right (the view follows it)", False),
        Key("pan_left", "shift+left,H", "Pan left", "Moves the x range left by a quarter of its width", False),
        Key("pan_right", "shift+right,L", "Pan right", "Moves the x range right by a quarter of its width", False),
        Key("reset_view", "0", "Reset zoom", "Shows the whole x range again, the cursor on the newest point"),
        Key("toggle_clip", "y", "Clip y", "Clips y to the 1st-99th percentiles of a diverging run, or shows all"),
        Key("prev_metric", "left_square_bracket", "Previous metric", "Shows the previous metric's chart", False),
        Key("next_metric", "right_square_bracket", "Next metric", "Shows the next metric's chart", False),
    ),
    *_in(
        "media",
        Key("prev_step", "left", "Prev step", "Shows this name's previous logged step (the slider marks it)"),
        Key("next_step", "right", "Next step", "Shows the next logged step; on the newest, follows new ones"),
        Key("prev_name", "up", "Prev name", "Shows the previous name (images, videos, texts, histograms)"),
        Key("next_name", "down", "Next name", "Shows the next name (images, videos, texts, histograms)"),
        Key("first_step", "home", "First step", "Jumps to the first logged step", False),
        Key("last_step", "end", "Newest step", "Jumps to the newest step and follows new ones", False),
        Key("scroll_body(1)", "pagedown", "Scroll text down", "Scrolls a long text sample down a page", False),
        Key("scroll_body(-1)", "pageup", "Scroll text up", "Scrolls a long text sample up a page", False),
        Key("toggle_play", "space", "Play/pause", "Plays or pauses the video shown (it loops at its own frame rate)"),
        Key("back", "escape", "Back", "Back to the run view"),
    ),
    *_in(
        "picker",
        Key("open_run", "enter", "Open", "Opens the run under the cursor (↑/↓ move it)"),
        Key("toggle_select", "space", "Select", "Marks or unmarks the run under the cursor for Compare"),
        Key("compare", "C", "Compare", "Opens the marked runs (or the one under the cursor) on shared charts"),
        Key("refresh", "r", "Refresh", "Rescans now (the list rescans every 3 s by itself)", False),
        Key("new_run", "n", "New run", "Asks for a task .toml and opens the config editor to launch it"),
        Key("add_remote", "a", "Add remote", "Asks for [user@]host[:port][:/runs] and lists its runs over ssh", False),
        Key("show_sweeps", "w", "Sweeps", "Lists the sweeps under the runs dir"),
        Key("filter_runs", "slash", "Filter", "Filters by text or key=value (lr=3e-4); enter applies"),
        Key("close_filter", "escape", "Clear filter", "Clears the filter and hides its input", False),
        Key("cycle_sort", "o", "Sort", "Sorts by the next column (its header shows ▲ or ▼)", False),
        Key("reverse_sort", "O", "Reverse sort", "Reverses the order of the sort", False),
        Key("tag_run", "t", "Tag", "Sets the run's comma-separated tags (the tags column)", False),
        Key("note_run", "N", "Note", "Writes a one-line note on the run", False),
        Key("archive_run", "A", "Archive", "Hides the run from the list (kept on disk), or brings it back", False),
        Key("toggle_archived", "H", "Show archived", "Lists the archived runs too, or hides them", False),
        Key(
            "delete_run",
            "D",
            "Delete",
            "Deletes the run dir after asking; refuses a live run",
            False,
        ),
    ),
    *_in(
        "sweeps",
        Key("open_sweep", "enter", "Open", "Opens the sweep under the cursor: its trials and charts"),
        Key("refresh", "r", "Refresh", "Reads every sweep's status again now"),
        Key("back", "escape", "Back", "Back to the previous screen"),
    ),
    *_in(
        "sweep",
        Key("open_trial", "enter", "Open trial", "Opens the run of the trial under the cursor"),
        Key("stop_trial", "s", "Stop trial", "Stops the engine of the trial under the cursor (it checkpoints)"),
        Key("prune_trial", "p", "Prune", "Asks the driver to prune the trial (checkpoint, stop, recorded pruned)"),
        Key("raise_parallel", "plus", "Parallel+", "Asks the sweep's drivers to run one more trial at once"),
        Key("lower_parallel", "minus", "Parallel-", "Asks the drivers to run one trial fewer at once", False),
        Key("stop_sweep", "x", "Stop sweep", "Stops the sweep's drivers; they stop their trials, which checkpoint"),
        Key("back", "escape", "Back", "Back to the previous screen", False),
    ),
    *_in(
        "config",
        Key("save", "ctrl+s", "Save", "Saves the tab: the form's edited fields, the TOML as typed, the sweep file"),
        Key("launch", "ctrl+l", "Launch", "Saves, then opens the launch screen (the sweep tab starts the sweep)"),
        Key("reset_field", "ctrl+r", "Reset to default", "Resets the focused field; saving drops its key"),
        Key("search_fields", "ctrl+f", "Search", "Focuses the search box: it filters fields by name or help", False),
        Key("back", "escape", "Back", "Goes back (to the picker when the editor was the first screen)", False),
    ),
    *_in(
        "launch",
        Key("launch", "ctrl+l", "Launch", "Starts the engine with this layout and overrides; opens its run view"),
        Key("back", "escape", "Back", "Back to the config editor"),
    ),
    *_in("help", Key("close", "escape,q,question_mark", "Close", "Closes this list (↑/↓, pgup/pgdn scroll it)")),
    *_in(
        "quit",
        Key("stop", "s", "Stop", "Stops the runs launched here (each checkpoints), then quits"),
        Key("detach", "d", "Detach", "Quits and leaves the runs training; the picker reopens them"),
        Key("cancel", "escape", "Cancel", "Back to the app; nothing is stopped"),
    ),
    *_in("stopping", Key("leave", "q,escape", "Leave it running", "Quits now; the engines finish stopping alone")),
    *_in(
        "prompt",
        Key("submit", "enter", "OK", "Answers with the text typed", bound=False),
        Key("cancel", "escape", "Cancel", "Closes the prompt without an answer"),
    ),
    *_in(
        "confirm",
        Key("yes", "y", "Yes", "Does what the question asks"),
        Key("no", "n,escape", "No", "Closes the question; nothing is done"),
    ),
    *_in("waiting", Key("back", "escape", "Runs", "Stops waiting and opens the run picker")),
    *_in(
        "focus",
        Key("focus_next", "tab,shift+tab", "Next pane", "Moves the focus to the next / previous pane", bound=False),
        Key("scroll", "up,down", "Move", "Moves a table's cursor, or scrolls the focused pane a line", bound=False),
        Key("page", "pageup,pagedown", "Page", "Scrolls the focused pane or table by a page", bound=False),
        Key(
            "ends", "home,end", "Top / bottom", "Jumps to the top or bottom; the logs follow at the bottom", bound=False
        ),
    ),
)

SCOPES = {
    "app": "Everywhere",
    "run": "Run view",
    "chart": "Full-screen chart",
    "media": "Media pane",
    "overview": "Run overview",
    "diff": "Config diff",
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
    "focus": "Panes, tables and lists (any screen)",
}


def keys_for(scope: str) -> list[Key]:
    """The registry rows of one scope."""
    return [k for k in KEYS if k.scope == scope]


def accelerator(scope: str, action: str) -> str:
    """The keys of ``action`` in ``scope`` as a dialog's button shows them (``n/esc``)."""
    key = next(k for k in keys_for(scope) if k.action == action)
    return display_key(key.key).replace(", ", "/")


SCREEN_SCOPES = frozenset(
    {"run", "chart", "media", "overview", "diff", "waiting", "picker", "sweeps", "sweep", "config", "launch"}
)  # full screens, not dialogs


def bindings(scope: str) -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """Textual bindings for one scope, with ids so keymaps can remap them.

    A full screen repeats the app's footer keys (``? Help``, ``q Quit``) first, as ``app.`` actions: the footer lists
    a screen's bindings before the app's, so on a narrow terminal the app's would be the ones cut off.
    """
    first = [k for k in keys_for("app") if k.show] if scope in SCREEN_SCOPES else []
    own = [
        Binding(
            k.key,
            k.action,
            k.description,
            show=k.show,
            id=f"{k.scope}.{k.action}",
            priority=_priority(k),
            tooltip=k.help,
        )
        for k in keys_for(scope)
        if k.bound
    ]
    taken = {b.key for b in own}
    return [
        *(
            Binding(k.key, f"app.{k.action}", k.description, id=f"{scope}.app.{k.action}", tooltip=k.help)
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
        "up": "↑",
        "down": "↓",
        "pageup": "pgup",
        "pagedown": "pgdn",
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
        out += [f"## {title}", "", "| Key | Action | What it does |", "|---|---|---|"]
        out += [f"| `{display_key(k.key)}` | {k.description} | {k.help} |" for k in keys_for(scope)]
        out.append("")
    return "\n".join(out)
