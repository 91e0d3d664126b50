"""xaxtui has no import cycle: every strongly connected component of its import graph is one module.

grimp counts every import, including those under ``TYPE_CHECKING`` and inside functions, so a cycle hidden by a
local import fails here too.
"""

import grimp

from xaxtui.sessions import SessionManager


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components of ``graph`` (module -> modules it imports), iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def xaxtui_graph() -> dict[str, set[str]]:
    """Every xaxtui module and the xaxtui modules it imports directly."""
    graph = grimp.build_graph("xaxtui")
    modules = {m for m in graph.modules if m.split(".")[0] == "xaxtui"}
    return {m: {d for d in graph.find_modules_directly_imported_by(m) if d in modules} for m in modules}


def test_the_cycle_finder_finds_a_cycle():
    components = strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(map(sorted, components)) == [["a", "b", "c"], ["d"]]


def test_xaxtui_has_no_import_cycle():
    graph = xaxtui_graph()
    assert "xaxtui.app" in graph and "xaxtui.screens.run" in graph and len(graph) > 20
    cycles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def test_screens_and_widgets_do_not_import_the_app():
    graph = xaxtui_graph()
    importers = {m for m, deps in graph.items() if "xaxtui.app" in deps}
    assert not {m for m in importers if m.startswith(("xaxtui.screens", "xaxtui.widgets"))}
    assert SessionManager.__module__ not in importers
