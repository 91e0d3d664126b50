"""The import graph has no cycles: every strongly connected component of each package is a single module.

grimp (import-linter's graph builder) sees imports inside functions too, so a cycle hidden by a lazy import fails
here even though Python would run it.
"""

import grimp
import pytest


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[set[str]]:
    """Tarjan's algorithm over the imports among ``modules``; returns the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(start: str) -> None:  # iterative, so deep graphs cannot hit the recursion limit
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start) & modules)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                    if len(component) > 1:
                        components.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return components


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("xaxengine", "xaxtui")


@pytest.mark.parametrize("package", ["xaxengine", "xaxtui"])
def test_no_import_cycles(graph: grimp.ImportGraph, package: str) -> None:
    # A package's __init__ importing its own submodules is not a cycle of the code's shape; leave the packages out.
    modules = {m for m in graph.modules if m.startswith(package) and not graph.find_children(m)}
    assert strongly_connected(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    fake = grimp.ImportGraph()
    for module in ("p.a", "p.b", "p.c"):
        fake.add_module(module)
    fake.add_import(importer="p.a", imported="p.b")
    fake.add_import(importer="p.b", imported="p.a")
    fake.add_import(importer="p.b", imported="p.c")
    assert strongly_connected(fake, {"p.a", "p.b", "p.c"}) == [{"p.a", "p.b"}]
