"""The command palette: every registered action of the app and of the current screen's key scope, with its key."""

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from xaxtui.keys import KEYS, Key, display_key
from xaxtui.screens.base import key_scope


def entry_text(key: Key, label: Content | None = None) -> Content:
    """A palette entry: the action's label (``label``: the same, with the matched letters highlighted), its key."""
    return Content.assemble(label or key.description, "  ", (display_key(key.key), "bold $accent"))


class ActionCommands(Provider):
    """Palette entries from :data:`xaxtui.keys.KEYS` for the ``app`` scope and the screen's ``KEY_SCOPE``."""

    def entries(self) -> list[Key]:
        """The registry rows offered on the current screen, once per action (the screen's own first).

        An action the screen turns off now (its ``check_action`` says False, as the run view does for the config
        diff of a single run) is not offered, as the footer does not show it.
        """
        scope = key_scope(self.screen)
        seen: set[str] = set()
        out = []
        for k in sorted(KEYS, key=lambda k: k.scope == "app"):
            if k.scope in ("app", scope) and k.bound and k.action not in seen and k.action != "command_palette":
                if k.scope != "app" and self.screen.check_action(k.action, ()) is False:
                    continue
                seen.add(k.action)
                out.append(k)
        return out

    async def _run(self, action: str, scope: str) -> None:
        await self.app.run_action(action, self.screen if scope != "app" else None)

    async def discover(self) -> Hits:
        """All actions, unfiltered."""
        for k in self.entries():
            yield DiscoveryHit(entry_text(k), partial(self._run, k.action, k.scope), text=k.description, help=k.help)

    async def search(self, query: str) -> Hits:
        """Actions whose label or help matches ``query``."""
        matcher = self.matcher(query)
        for k in self.entries():
            score = max(matcher.match(k.description), matcher.match(k.help) * 0.5)
            if score > 0:
                label = matcher.highlight(k.description)
                command = partial(self._run, k.action, k.scope)
                yield Hit(score, entry_text(k, label), command, text=k.description, help=k.help)
