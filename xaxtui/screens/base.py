"""The base of the full screens: each declares its key scope, and its bindings come from the one registry."""

from typing import ClassVar

from textual.screen import Screen


class ScopedScreen(Screen[None]):
    """A screen whose keys are the :data:`xaxtui.keys.KEYS` rows of :attr:`KEY_SCOPE` (plus the app's).

    Subclasses set ``KEY_SCOPE`` and ``BINDINGS = bindings(KEY_SCOPE)``; the command palette reads the scope.
    """

    KEY_SCOPE: ClassVar[str] = ""
