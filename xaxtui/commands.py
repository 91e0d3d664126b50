"""The command palette: every registered action of the app and of the current screen's key scope."""

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from xaxtui.keys import KEYS
from xaxtui.screens.base import ScopedScreen


class ActionCommands(Provider):
    """Palette entries from :data:`xaxtui.keys.KEYS` for the ``app`` scope and the screen's ``KEY_SCOPE``."""

    def entries(self) -> list[tuple[str, str, str]]:
        """``(description, action, scope)`` of each action offered on the current screen, once per action."""
        scope = self.screen.KEY_SCOPE if isinstance(self.screen, ScopedScreen) else ""
        seen: set[str] = set()
        out = []
        for k in KEYS:
            if k.scope in ("app", scope) and k.action not in seen and k.action != "command_palette":
                seen.add(k.action)
                out.append((k.description, k.action, k.scope))
        return out

    async def _run(self, action: str, scope: str) -> None:
        await self.app.run_action(action, self.screen if scope != "app" else None)

    async def discover(self) -> Hits:
        """All actions, unfiltered."""
        for description, action, scope in self.entries():
            yield DiscoveryHit(description, partial(self._run, action, scope), help=action)

    async def search(self, query: str) -> Hits:
        """Actions whose description matches ``query``."""
        matcher = self.matcher(query)
        for description, action, scope in self.entries():
            if (score := matcher.match(description)) > 0:
                yield Hit(score, matcher.highlight(description), partial(self._run, action, scope), help=action)
