"""The architecture holds: layers import only downward, no import circle between files, small folders.

The import graph is read from the source (module-level imports; those under ``if TYPE_CHECKING:`` and
inside functions are not edges, as they run later or never), so a change that adds a circle or an
upward import fails here with the modules named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "data_store", "signals", "strategies", "backtests")
#: which layers each layer may import (data flows one way; signals and strategies side by side)
ALLOWED = {
    "core": {"core"},
    "data_store": {"core", "data_store"},
    "signals": {"core", "data_store", "signals"},
    "strategies": {"core", "data_store", "strategies"},
    "backtests": {"core", "data_store", "signals", "strategies", "backtests"},
}
#: the most modules (``__init__`` and ``__main__`` not counted) one folder may hold
MAX_MODULES = 12


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _top_level_imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    """Imports executed when the module is imported: module level, also inside try/if blocks, but not
    under ``if TYPE_CHECKING:`` nor inside functions or classes' methods."""
    found: list[ast.ImportFrom | ast.Import] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    visit(node.orelse)
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _top_level_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    dest = sub if sub in mods else target
                    if dest in mods and dest != mod:
                        graph[mod].add(dest)
            else:
                for alias in node.names:
                    if alias.name in mods and alias.name != mod:
                        graph[mod].add(alias.name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_circle_between_files():
    graph = import_graph()
    # a package's __init__ re-exporting its own submodules is not a circle a reader follows: a submodule
    # that imports its package's public names would be, so only edges from __init__ files are dropped
    inits = {m for m, p in _modules().items() if p.name == "__init__.py"}
    pruned = {m: ({d for d in deps if not d.startswith(m + ".")} if m in inits else deps) for m, deps in graph.items()}
    assert _cycles(pruned) == []


def test_layers_import_only_downward():
    bad = [f"{m} imports {d}" for m, deps in import_graph().items() for d in deps
           if d.split(".")[0] not in ALLOWED[m.split(".")[0]]]
    assert bad == []


@pytest.mark.parametrize("folder", sorted({str(p.parent.relative_to(ROOT)) for p in _modules().values()}))
def test_each_folder_holds_at_most_twelve_modules(folder):
    names = [p.name for p in (ROOT / folder).glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(names) <= MAX_MODULES, f"{folder} holds {len(names)} modules: {sorted(names)}"


def test_the_graph_sees_planted_circles_and_upward_imports():
    """The checks above can fail: a planted circle and a planted upward import are found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "core.settings" in graph["signals.inputs.features"]  # edges are read at all
    graph["core.errors"].add("signals.errors")
    graph["signals.errors"].add("core.errors")
    assert ["core.errors", "signals.errors"] in _cycles(graph)
