"""Small modal dialogs: quit (stop, detach or cancel), waiting for stopping engines, prompts, a confirmation."""

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from xaxtui.keys import accelerator, bindings
from xaxtui.session import RunSession


def _label(text: str, scope: str, action: str) -> Content:
    """A button's label with its key from the registry (``Stop [s]``), as plain text: ``[s]`` is not markup."""
    return Content(f"{text} [{accelerator(scope, action)}]")


class QuitScreen(ModalScreen[str]):
    """Dismisses with ``"stop"``, ``"detach"`` or ``"cancel"``."""

    KEY_SCOPE = "quit"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, running: int) -> None:
        """Asks about ``running`` live runs."""
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        """Question and three buttons."""
        with Vertical(id="quit-box"):
            yield Static(
                f"{self.running} run(s) launched from here are still training.\n"
                "Stop them (checkpoint, then exit) or detach (they keep training; reopen them from the picker)?"
            )
            with Horizontal(id="quit-buttons"):
                yield Button(_label("Stop", "quit", "stop"), id="stop", variant="error")
                yield Button(_label("Detach", "quit", "detach"), id="detach", variant="primary")
                yield Button(_label("Cancel", "quit", "cancel"), id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.dismiss(event.button.id or "cancel")

    def action_stop(self) -> None:
        """``s``: stop the runs, then quit."""
        self.dismiss("stop")

    def action_detach(self) -> None:
        """``d``: leave the runs training, then quit."""
        self.dismiss("detach")

    def action_cancel(self) -> None:
        """``escape``: back to the app."""
        self.dismiss("cancel")


class StoppingScreen(ModalScreen[str]):
    """After Stop on quit: says that the engines are stopping; dismisses with ``"stopped"`` once none runs.

    Pressing ``q`` again dismisses with ``"detach"`` (the engines finish stopping on their own).
    """

    KEY_SCOPE = "stopping"
    BINDINGS = bindings(KEY_SCOPE)
    CHECK_S = 0.1

    def __init__(self, sessions: Sequence[RunSession]) -> None:
        """Waits for the engines of ``sessions``."""
        super().__init__()
        self.sessions = list(sessions)

    def compose(self) -> ComposeResult:
        """The message."""
        with Vertical(id="quit-box"):
            again = accelerator("stopping", "leave").split("/")[0]
            text = f"waiting for the engine to stop… (press {again} again to leave it running)"
            yield Static(text, id="stopping-message")

    def on_mount(self) -> None:
        """Checks the processes (their exit is not an event: a killed engine sends none)."""
        self.set_interval(self.CHECK_S, self._check)

    def _check(self) -> None:
        if not any(session.process_alive for session in self.sessions):
            self.dismiss("stopped")

    def action_leave(self) -> None:
        """``q``: quit now, leaving the engines to finish stopping."""
        self.dismiss("detach")


class PathPrompt(ModalScreen[str | None]):
    """Asks for a task ``.toml`` path; dismisses with the text, or None on escape."""

    KEY_SCOPE = "prompt"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, prompt: str, default: str = "") -> None:
        """Asks ``prompt`` with ``default`` prefilled."""
        super().__init__()
        self.prompt = prompt
        self.default = default

    def compose(self) -> ComposeResult:
        """Prompt and input."""
        with Vertical(id="prompt-box"):
            yield Static(self.prompt)
            yield Input(self.default, id="prompt-input")
            ok, cancel = accelerator("prompt", "submit"), accelerator("prompt", "cancel")
            yield Static(f"[dim]{ok}: OK · {cancel}: Cancel[/dim]", id="prompt-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter answers."""
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Escape cancels."""
        self.dismiss(None)


class TextPrompt(PathPrompt):
    """Asks for one line of text; dismisses with it (empty included) on enter, or None on escape."""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter answers, also with an empty line."""
        event.prevent_default()  # not PathPrompt's handler too (it would answer None for an empty line)
        self.dismiss(event.value.strip())


class ConfirmDialog(ModalScreen[bool]):
    """Asks a yes/no question (deleting a run); dismisses with True only on ``y`` or the confirm button."""

    KEY_SCOPE = "confirm"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, question: str, confirm: str = "Delete") -> None:
        """Asks ``question``; ``confirm`` labels the button that says yes."""
        super().__init__()
        self.question = question
        self.confirm = confirm

    def compose(self) -> ComposeResult:
        """Question and two buttons."""
        with Vertical(id="quit-box"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="quit-buttons"):
                yield Button(_label(self.confirm, "confirm", "yes"), id="yes", variant="error")
                yield Button(_label("Cancel", "confirm", "no"), id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        """``y``: yes."""
        self.dismiss(True)

    def action_no(self) -> None:
        """``n`` or ``escape``: no."""
        self.dismiss(False)
