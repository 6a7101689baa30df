"""The project's layout rules (DESIGN.md §2): who may import whom, no import cycles, small modules."""

from __future__ import annotations

import pytest

from devstack.paths import PROJECT_ROOT
from tests.support.imports import find_cycle, import_graph, module_name

PACKAGES = ("shared", "localvision", "devhost", "devstack", "bench", "tests")
MAX_LINES = 400
# package -> the project packages it must never import
FORBIDDEN = {
    "shared": {"localvision", "devhost", "devstack", "bench", "tests"},
    "localvision": {"shared", "devhost", "devstack", "bench", "tests"},
    "devhost": {"shared", "localvision", "devstack", "bench", "tests"},
    "devstack": {"shared", "bench", "tests"},
    "bench": {"tests"},
    "tests": {"bench"},
}


def top(module: str) -> str:
    return module.split(".", 1)[0]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(*PACKAGES)


def test_no_package_imports_what_its_layer_may_not(graph):
    assert "shared.pipeline" in graph and "devstack.stack" in graph  # the walk sees the project
    crossings = {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if top(target) in FORBIDDEN[top(module)]
    }
    assert crossings == set()


def test_the_layer_check_sees_a_crossing():
    assert "shared.classify" in import_graph("shared")["shared.pipeline"]  # edges are read, not guessed
    assert find_cycle({"shared.a": {"shared.b"}, "shared.b": {"shared.a"}}) == [
        "shared.a",
        "shared.b",
        "shared.a",
    ]


def test_nothing_imports_in_a_circle(graph):
    product = {name: targets for name, targets in graph.items() if top(name) != "tests"}
    assert find_cycle(product) is None, " -> ".join(find_cycle(product) or [])


@pytest.mark.parametrize("package", ["shared", "localvision", "devhost", "devstack", "bench"])
def test_no_module_is_over_400_lines(package):
    sizes = {
        module_name(path): len(path.read_text().splitlines())
        for path in (PROJECT_ROOT / package).rglob("*.py")
    }
    assert sizes and {name: size for name, size in sizes.items() if size > MAX_LINES} == {}
