"""The shape of the code: one dependency order without cycles, imports at the top.

Built from the source with ``ast``, nothing is imported. What is checked:

* the import graph of ``agent/`` and ``reporter/`` has no cycle (the offending modules are
  printed, in order);
* the project's own modules are imported at module level, except inside Click command bodies
  (functions decorated with ``@click.command``/``@click.group`` or ``@<group>.command``), which
  keep their imports local so that ``gpureport --help`` stays fast. Imports under
  ``if TYPE_CHECKING:`` do not count for either check: they never run;
* the shared helpers (``agent.periods``, ``agent.text``, ``agent.names``) are defined once: no
  other module defines a function of the same name.

Heavy third-party modules (LangGraph, WeasyPrint, pygal, Alembic, APScheduler) may still be
imported inside functions; that is what keeps the command line quick, and it is not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "reporter")
# helper name -> the one module that defines it
SHARED_HELPERS = {
    **{name: "agent.periods" for name in (
        "parse_now", "resolve_now", "floor_hour", "midnight", "week_start", "month_start",
        "prev_month_start", "iso", "utc", "naive", "period_text", "period_name", "iso_week_of")},
    **{name: "agent.text" for name in ("one_line", "mask_url")},
    **{name: "agent.names" for name in ("resolve_name", "suggestions")},
}
LOCAL_COPIES = {f"_{name}": home for name, home in SHARED_HELPERS.items()}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic loads these by path, not as modules
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """``agent.sources.base.Scope`` -> ``agent.sources.base``; None outside the project."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_click_command(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``@click.command(...)``, ``@click.group(...)``, ``@alerts.command("check")``, ..."""
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("command", "group"):
            return True
    return False


def _imports(module: str, path: Path):
    """(imported project module, line, where) for every import that runs; ``where`` is None at
    module level, else the name of the enclosing function and whether it is a Click command."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:  # relative: from .client import X
            parts = module.split(".") if is_package else module.split(".")[:-1]
            parts = parts[:len(parts) - (node.level - 1)]
            base = ".".join(parts + ([base] if base else []))
        return [base] + [f"{base}.{a.name}" for a in node.names]

    def walk(node: ast.AST, function: tuple[str, bool] | None):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    yield from walk(other, function)
                continue
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside = function if function and function[1] else \
                    (child.name, _is_click_command(child))
                yield from walk(child, inside)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found = {_resolve(t) for t in targets(child)} - {None, module}
                for target in sorted(found):
                    if not module.startswith(f"{target}."):  # a package's own __init__
                        yield target, child.lineno, function
            yield from walk(child, function)

    yield from walk(tree, None)


def _graph() -> dict[str, set[str]]:
    return {m: {target for target, _, _ in _imports(m, p)} for m, p in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read_from_the_source():
    graph = _graph()
    assert {"agent.errors", "agent.periods", "reporter.cli", "reporter.runner"} <= set(graph)
    assert "agent.errors" in graph["reporter.runner"]


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path start -> ... -> start inside a strongly connected component."""
    start, members = component[0], set(component)
    paths = {w: [start, w] for w in sorted(graph[start] & members)}
    queue = list(paths)
    while start not in paths:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return paths[start]


def test_no_import_cycles():
    graph = _graph()
    cycles = [_one_cycle(graph, c) for c in _cycles(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_project_modules_are_imported_at_the_top_except_in_click_commands():
    found = [f"{MODULES[m].relative_to(ROOT)}:{line}: {target} inside {where[0]}()"
             for m, p in MODULES.items() for target, line, where in _imports(m, p)
             if where is not None and not where[1]]
    assert not found, "function-level imports of the project's own modules:\n" + "\n".join(found)


def test_the_leaf_helpers_import_nothing_of_ours_but_errors():
    leaves = ("agent.errors", "agent.periods", "agent.text", "agent.names")
    for leaf in leaves:
        assert _graph()[leaf] <= {"agent.errors", "agent"}, leaf


def _functions(tree: ast.AST):
    """Module-level functions and functions nested in them (methods are not helpers)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node
            yield from _functions(node)
        elif not isinstance(node, ast.ClassDef):
            yield from _functions(node)


def test_shared_helpers_are_defined_once():
    copies = []
    for module, path in MODULES.items():
        for node in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            home = SHARED_HELPERS.get(node.name) or LOCAL_COPIES.get(node.name)
            if home and home != module:
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}() "
                              f"(use {home})")
    assert not copies, "copies of shared helpers:\n" + "\n".join(copies)
