"""No import cycles between glasswatch modules (issue 8): the layer contract in pyproject.toml
orders the packages; this checks the modules inside a package too."""

from __future__ import annotations

import grimp


def _cycles(adjacency: dict[str, list[str]]) -> list[list[str]]:
    """Every back edge of a depth-first walk, as the cycle it closes (iterative: no recursion)."""
    state: dict[str, int] = {}
    found: list[list[str]] = []
    for root in sorted(adjacency):
        if root in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            children = adjacency.get(node, [])
            if i < len(children):
                stack.append((node, i + 1))
                child = children[i]
                if state.get(child) == 1:
                    found.append([*path[path.index(child) :], child])
                elif child not in state:
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": ["b", "c"], "b": ["c"], "c": []}) == []


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("glasswatch")
    modules = [m for m in graph.modules if m.startswith("glasswatch.")]
    adjacency = {
        m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i.startswith("glasswatch."))
        for m in modules
    }
    assert len(modules) > 100
    assert _cycles(adjacency) == []
