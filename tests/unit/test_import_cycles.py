"""No import cycles between the composition root, the services and the adapters.

Walks every module of the `guard` package with `ast` (every import counts: top-level,
inside functions and under `if TYPE_CHECKING:`), builds the module graph and looks for
strongly connected components. Before the restructuring `guard.app` sat in one with
13 adapter and review modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import guard

ROOT = Path(guard.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
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
                if len(component) > 1:
                    out.append(component)
    return out


def test_the_checker_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_module_after_the_verdict_is_in_an_import_cycle() -> None:
    graph = import_graph()
    assert "guard.app" in graph and "guard.smtp.handler" in graph["guard.smtp.server"]
    assert [c for c in cycles(graph) if any(_after_the_verdict(m) for m in c)] == []


#: The composition root, the services, actions, delivery, store and every adapter.
_OWNED = ("guard.app", "guard.services", "guard.actions", "guard.jobs", "guard.errors", "guard.metrics")
_OWNED_PACKAGES = ("guard.smtp", "guard.chat", "guard.api", "guard.http", "guard.delivery", "guard.store")


def _after_the_verdict(module: str) -> bool:
    """(`guard.cli` <-> `guard.review.cli` is the CLI's own split, reworked with the CLI.)"""
    if module == "guard.review.cli":
        return False
    return module in (*_OWNED, *_OWNED_PACKAGES) or module.startswith(
        tuple(p + "." for p in (*_OWNED_PACKAGES, "guard.review"))
    )
