"""localvision's shape: no import cycles, small modules, errors only from the catalogue."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import localvision
from localvision import exceptions

PACKAGE = Path(localvision.__file__).parent
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The localvision modules ``path`` imports anywhere, ``if TYPE_CHECKING`` and inside functions too.

    ``from package import submodule`` counts as an import of the submodule, not of the package's body.
    """
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        stack.append(name)
        for target in sorted(graph[name]):
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


def test_no_module_imports_in_a_circle():
    graph = import_graph()
    assert "localvision.state.entities" in graph and graph["localvision.app"]  # the walk sees the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_state_knows_no_http_and_no_trainer():
    for name, imports in import_graph().items():
        if name.startswith("localvision.state"):
            forbidden = {
                "localvision.app",
                "localvision.handlers",
                "localvision.trainer",
                "localvision.engine",
            }
            assert not imports & forbidden, (name, imports & forbidden)
            assert not any(module.startswith("localvision.wire") for module in imports), name


def test_no_module_is_over_400_lines():
    sizes = {module_name(path): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def test_errors_are_raised_from_the_catalogue():
    """Outside the catalogue only the URL fetcher builds its own messages (BadRequest with a detail)."""
    allowed = {"localvision.exceptions", "localvision.urlfetch"}
    for path in PACKAGE.rglob("*.py"):
        if module_name(path) in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                assert called not in {"ServiceError", "BadRequest", "NotFound"}, (path.name, node.lineno)


def test_every_catalogue_entry_formats_into_a_service_error():
    specs = {name: spec for name, spec in vars(exceptions).items() if isinstance(spec, exceptions.ErrorSpec)}
    assert len(specs) > 60
    for name, spec in specs.items():
        fields = {field for _, field, _, _ in string.Formatter().parse(spec.template) if field}
        error = spec.error(**dict.fromkeys(fields, "x"))
        assert error.code and error.status in (400, 403, 404, 405, 415, 429, 500), name
        assert error.message.strip(), name
