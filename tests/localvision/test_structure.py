"""localvision's shape: no import cycles, small modules, errors only from the catalogue."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import localvision
from localvision import exceptions
from tests.support import imports
from tests.support.imports import find_cycle, module_name

PACKAGE = Path(localvision.__file__).parent
MAX_LINES = 400


def import_graph() -> dict[str, set[str]]:
    return imports.import_graph("localvision")


def test_no_module_imports_in_a_circle():
    graph = import_graph()
    assert "localvision.state.entities" in graph and graph["localvision.app"]  # the walk sees the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_state_knows_no_http_and_no_trainer():
    for name, imported in import_graph().items():
        if name.startswith("localvision.state"):
            forbidden = {
                "localvision.app",
                "localvision.handlers",
                "localvision.trainer",
                "localvision.engine",
            }
            assert not imported & forbidden, (name, imported & forbidden)
            assert not any(module.startswith("localvision.wire") for module in imported), name


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
        assert error.code and error.status in (400, 403, 404, 405, 409, 415, 429, 500, 503), name
        assert error.message.strip(), name
