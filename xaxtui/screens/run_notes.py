"""The picker's actions on one run: tag, note, archive, delete (``RUN_DIR/notes.json``, :mod:`xaxengine.run_notes`).

Only local runs: a run listed over SSH says so in one line. Deleting asks first and refuses a live run or anything
outside the runs dir (:func:`xaxengine.run_delete.delete_run`).
"""

from pathlib import Path

from xaxengine.run_delete import delete_run
from xaxengine.run_notes import RunNotes, parse_tags, read_notes, write_notes
from xaxengine.runs import RunError
from xaxtui.catalog import RunInfo
from xaxtui.screens.base import ScopedScreen
from xaxtui.screens.dialogs import ConfirmDialog, TextPrompt
from xaxtui.widgets.runs import RunsTable


class RunNotesActions(ScopedScreen):
    """The run actions of a screen that shows a :class:`RunsTable` of the runs under :attr:`runs_dir`."""

    runs_dir: Path

    def _local_run(self) -> RunInfo | None:
        run = self.query_one(RunsTable).current_run()
        if run is None:
            self.notify("no run under the cursor", severity="warning")
            return None
        if getattr(run, "remote", None) is not None:
            self.notify(f"{run.run_id} is on a remote host: tag, note, archive and delete work on local runs only")
            return None
        return run

    def _save(self, run: RunInfo, notes: RunNotes) -> bool:
        try:
            write_notes(run.run_dir, notes)
        except RunError as error:
            self.notify(str(error), severity="error")
            return False
        run.tags, run.note, run.archived = notes.tags, notes.note, notes.archived
        self.query_one(RunsTable).refresh_rows()
        self.show_title()
        return True

    def show_title(self) -> None:
        """Redraws the screen's title line (the picker overrides it)."""

    def action_tag_run(self) -> None:
        """Asks for the run's tags (comma or space separated; empty clears them)."""
        if (run := self._local_run()) is None:
            return

        def answered(answer: str | None) -> None:
            if answer is None:
                return  # escape: no change (an empty answer clears the tags)
            notes = read_notes(run.run_dir)
            notes.tags = parse_tags(answer)
            self._save(run, notes)

        self.app.push_screen(
            TextPrompt(f"tags for {run.run_id} (comma separated, empty clears):", ", ".join(run.tags)), answered
        )

    def action_note_run(self) -> None:
        """Asks for a one-line note on the run."""
        if (run := self._local_run()) is None:
            return

        def answered(answer: str | None) -> None:
            if answer is None:
                return
            notes = read_notes(run.run_dir)
            notes.note = answer
            self._save(run, notes)

        self.app.push_screen(TextPrompt(f"note on {run.run_id}:", run.note), answered)

    def action_archive_run(self) -> None:
        """Archives the run (hidden unless archived runs are shown), or unarchives an archived one."""
        if (run := self._local_run()) is None:
            return
        notes = read_notes(run.run_dir)
        notes.archived = not run.archived
        if self._save(run, notes):
            self.notify(f"{run.run_id} {'archived (H shows archived runs)' if notes.archived else 'unarchived'}")

    def action_delete_run(self) -> None:
        """Asks, then deletes the run's directory (never a live run)."""
        if (run := self._local_run()) is None:
            return
        if run.alive:
            self.notify(f"{run.run_id} is live: stop it before deleting it", severity="error")
            return

        key = run.key

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                delete_run(run.run_dir, self.runs_dir)
            except RunError as error:
                self.notify(str(error), severity="error")
                return
            table = self.query_one(RunsTable)
            table.all_runs = [r for r in table.all_runs if r.key != key]
            table.refresh_rows()
            self.show_title()
            self.notify(f"deleted {run.run_dir}")

        question = f"Delete run {run.run_id} ({run.state}, step {run.step})?\n{run.run_dir} and all its checkpoints go."
        self.app.push_screen(ConfirmDialog(question), answered)
