"""The project's import graph, read from the source (``ast``): for the layout and structure tests."""

from __future__ import annotations

import ast
from pathlib import Path

from devstack.paths import PROJECT_ROOT


def module_name(path: Path, root: Path = PROJECT_ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere (``if TYPE_CHECKING`` and inside functions too); for
    ``from package import name`` both ``package`` and ``package.name`` (the name may be a submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports. ``from package import submodule`` counts as an
    import of the submodule only, not of the package's own body."""
    paths = {module_name(p): p for package in packages for p in (PROJECT_ROOT / package).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        found = imports_of(path) & set(paths)
        # a package named only as the parent of a submodule also imported is not an import of its body
        graph[name] = {m for m in found if not any(o.startswith(m + ".") for o in found)} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        stack.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[name] = "done"
        stack.pop()
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None
