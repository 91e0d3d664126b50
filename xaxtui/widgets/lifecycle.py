"""Whether a widget is on its way out: a screen popped in the tick it was pushed still gets its ``Mount`` events."""

from textual.dom import DOMNode


def leaving(node: DOMNode) -> bool:
    """Whether ``node`` is being removed (or is gone), so that querying its children may find none.

    Textual prunes a popped screen's tree before the handlers of messages already queued run: a screen left
    milliseconds after it was pushed handles its ``Mount`` with its containers emptied, and any ``query_one`` there
    raises ``NoMatches`` (textual-plot's ``PlotWidget.on_mount`` looking for its ``Grid`` did). Mount handlers of
    widgets with children return early when this holds.
    """
    return node._pruning or node._closing or node._closed or not node.is_attached
