"""The base of the full screens: each declares its key scope, and its bindings come from the one registry."""

from typing import ClassVar

from textual.dom import DOMNode
from textual.screen import Screen


class ScopedScreen(Screen[None]):
    """A screen whose keys are the :data:`xaxtui.keys.KEYS` rows of :attr:`KEY_SCOPE` (plus the app's).

    Subclasses set ``KEY_SCOPE`` and ``BINDINGS = bindings(KEY_SCOPE)``; the command palette reads the scope.
    """

    KEY_SCOPE: ClassVar[str] = ""


def key_scope(screen: DOMNode) -> str:
    """The key scope a screen declares (``KEY_SCOPE``: full screens and dialogs alike), or ``""``."""
    scope = next((vars(cls)["KEY_SCOPE"] for cls in type(screen).__mro__ if "KEY_SCOPE" in vars(cls)), "")
    return scope if isinstance(scope, str) else ""
