"""The package's modules import one another without a cycle, imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import shopwindow

ROOT = Path(shopwindow.__file__).parent


def module_names() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every package module this file imports at run time (not under `if TYPE_CHECKING:`)."""
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    out.add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in modules:
                out.add(node.module)
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    out.add(f"{node.module}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return out


def graph() -> dict[str, set[str]]:
    modules = module_names()
    names = set(modules)
    # A package's __init__ is run by importing any module inside it: not an edge of its own.
    return {name: imports_of(path, names) - {name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_the_graph_sees_the_imports() -> None:
    edges = graph()
    assert len(edges) > 50
    assert "shopwindow.shop" in edges["shopwindow.app"]
    assert "shopwindow.hooks" in edges["shopwindow.shop"]


def test_no_module_imports_itself_back() -> None:
    assert cycles(graph()) == []


# The placements: each answers its own routes; what they share lives elsewhere.
PLACEMENTS = {"homepage", "landing", "popups", "outofstock", "product", "shoppable", "beacon"}


def test_placements_import_no_other_placement() -> None:
    edges = graph()
    placements = {name for name in edges if name.rpartition(".")[2] in PLACEMENTS}
    assert len(placements) == len(PLACEMENTS)
    crossing = {
        name: sorted(edges[name] & (placements - {name}))
        for name in sorted(placements)
        if edges[name] & (placements - {name})
    }
    assert not crossing, crossing


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_rule_engine_imports_nothing_above_it() -> None:
    edges = graph()
    engine = {name for name in edges if name.startswith("shopwindow.rules.")}
    assert len(engine) > 10
    outside = {
        name: sorted(target for target in edges[name] if not target.startswith("shopwindow.rules"))
        for name in sorted(engine)
    }
    assert not {name: found for name, found in outside.items() if found}
