"""The config form generated from ``xaxengine schema``: a search box, then one collapsible section per table.

The task's top-level fields come first, then the sections (``[train]``, ``[optimizer]``, ...) in the schema's
order; those the file sets start open, the rest closed (their rows mount when they first open). The search box
shows only the fields whose name or help has every word typed (and opens their sections); clearing it restores the
sections as they were. Only fields the user touched are ever written back.
"""

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Collapsible, Input, Select, Static, Switch

from xaxtui.config_values import matches
from xaxtui.widgets.config_field import FieldRow

TOP = "top level"


def section_title(section: str, rows: list[FieldRow]) -> str:
    """A section header: its name, and how many of its fields the file sets or the user edited."""
    states = [row.state() for row in rows]
    parts = [f"{len(rows)} field{'s' if len(rows) != 1 else ''}", f"{states.count('set')} set"]
    if edited := sum(s in ("edited", "reset") for s in states):
        parts.append(f"{edited} edited")
    return f"{section or TOP}  ({', '.join(parts)})"


class SearchBox(Input):
    """The form's search box: escape empties it first (and only an empty one lets escape leave the editor)."""

    BINDINGS: ClassVar = [Binding("escape", "clear_search", "Clear the search", show=False)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape clears only a search there is."""
        return bool(self.value) if action == "clear_search" else super().check_action(action, parameters)

    def action_clear_search(self) -> None:
        """Empties the box (every field shows again)."""
        self.value = ""


class ConfigForm(Vertical):
    """A search box and, per section, a collapsible list of field rows prefilled from the TOML document."""

    DEFAULT_CSS = """
    ConfigForm { height: 1fr; }
    ConfigForm #form-search { margin-bottom: 1; }
    ConfigForm #form-fields { height: 1fr; }
    ConfigForm #form-empty { color: $text-muted; display: none; }
    ConfigForm Collapsible { border-top: none; padding: 0; }
    ConfigForm CollapsibleTitle { color: $accent; text-style: bold; }
    ConfigForm Collapsible > Contents { padding: 0 0 1 2; }
    """

    def __init__(self, fields: list[dict[str, Any]], values: dict[str, Any], **kwargs: object) -> None:
        """Creates the form.

        Args:
            fields: The schema's ``fields``.
            values: Current values by dotted name (fields absent from the file show their default).
            **kwargs: Widget arguments.
        """
        super().__init__(**kwargs)  # ty: ignore[invalid-argument-type]
        self.fields = {f["name"]: f for f in fields}
        self.values = values
        top_first = any(not f.get("section") for f in fields)  # the task's own fields, as at the top of the file
        self.sections: dict[str, list[FieldRow]] = {"": []} if top_first else {}
        for index, spec in enumerate(fields):
            self.sections.setdefault(str(spec.get("section") or ""), []).append(FieldRow(spec, index, values))
        self.collapsibles: dict[str, Collapsible] = {}
        self._open_before_search: dict[str, bool] | None = None

    def compose(self) -> ComposeResult:
        """The search box, then the sections."""
        yield SearchBox(placeholder="/ search fields by name or help (ctrl+f)", compact=True, id="form-search")
        with VerticalScroll(id="form-fields", can_focus=False):  # tab goes from the search box to the fields
            yield Static("", id="form-empty")
            for i, (section, rows) in enumerate(self.sections.items()):
                opened = any(row.in_file for row in rows)
                title = section_title(section, rows)
                children = rows if opened else []  # a closed section's rows mount when it first opens
                collapsible = Collapsible(*children, title=title, collapsed=not opened, id=f"section-{i}", name=section)
                self.collapsibles[section] = collapsible
                yield collapsible

    async def on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        """Mounts a section's rows the first time it opens."""
        rows = self.sections.get(event.collapsible.name or "", [])
        if rows and not rows[0].is_mounted:
            await event.collapsible.query_one(Collapsible.Contents).mount_all(rows)

    @property
    def rows(self) -> list[FieldRow]:
        """Every field row, in schema order."""
        return [row for rows in self.sections.values() for row in rows]

    def row(self, name: str) -> FieldRow:
        """The row of the field ``name``."""
        return next(row for row in self.rows if row.field_name == name)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filters on the search box; refreshes a section's counts when one of its fields changes."""
        if event.input.id == "form-search":
            self.filter(event.value)
        else:
            self.refresh_titles(event.input)

    def on_select_changed(self, event: Select.Changed) -> None:
        """A choice changed: the section's counts follow."""
        self.refresh_titles(event.select)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        """A switch flipped: the section's counts follow."""
        self.refresh_titles(event.switch)

    def filter(self, query: str) -> None:
        """Shows only the fields matching ``query`` (all of them for an empty one) and the sections holding them."""
        collapsibles = self.collapsibles
        query = query.strip()
        if query and self._open_before_search is None:
            self._open_before_search = {name: not c.collapsed for name, c in collapsibles.items()}
        shown = 0
        for section, rows in self.sections.items():
            hits = 0
            for row in rows:
                row.display = not query or matches(row.spec, query)
                hits += row.display
            shown += hits
            collapsible = collapsibles[section]
            collapsible.display = hits > 0
            if query and hits:
                collapsible.collapsed = False
        if not query and self._open_before_search is not None:
            for name, opened in self._open_before_search.items():
                collapsibles[name].collapsed = not opened
            self._open_before_search = None
        empty = self.query_one("#form-empty", Static)
        empty.update(f"no field matches {query!r}" if query and not shown else "")
        empty.display = bool(query) and not shown

    def refresh_titles(self, editor: Widget | None = None) -> None:
        """Recounts the set and edited fields into each section's header (only the section of ``editor`` if given)."""
        for section, collapsible in self.collapsibles.items():
            rows = self.sections[section]
            if editor is None or any(row.editor is editor for row in rows):
                collapsible.title = section_title(section, rows)

    def touched(self) -> list[str]:
        """Fields whose value the user changed (or reset) since the form last showed the file."""
        return [row.field_name for row in self.rows if row.touched()]

    def changed_values(self) -> dict[str, Any]:
        """Values of the fields the user touched (:data:`~xaxtui.tomledit.REMOVE` for a reset); no other is written.

        Raises:
            ValueError: Naming the first touched field whose text does not parse or is out of its bounds.
        """
        return {row.field_name: row.change() for row in self.rows if row.touched()}

    def reload(self, values: dict[str, Any], keep_touched: bool = True) -> None:
        """Shows the file's values as saved; fields the user touched keep their text unless ``keep_touched`` is off.

        Args:
            values: The saved file's values by dotted name.
            keep_touched: Whether unsaved edits in the form survive (a save of the TOML tab); off after the form
                itself was saved.
        """
        self.values = values
        for row in self.rows:
            row.reload(values, keep_touched)
        self.refresh_titles()

    def focused_row(self) -> FieldRow | None:
        """The row holding the focused widget, if any."""
        focused = self.screen.focused
        return next((w for w in focused.ancestors_with_self if isinstance(w, FieldRow)), None) if focused else None
