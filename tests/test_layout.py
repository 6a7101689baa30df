"""The project's layout rules (CONTRIBUTING.md): who may import whom, no import cycles, small modules."""

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


# Inside shared/: each package (or root module) -> the packages and root modules it may import. A unit is
# ``shared.<name>``; what is not listed is forbidden, so a new edge is a decision made here, in review.
FOUNDATION = {"shared.catalogue", "shared.contracts", "shared.errors", "shared.settings"}
SHARED_MAY_IMPORT = {
    "shared.catalogue": set(),
    "shared.contracts": set(),
    "shared.fetch": set(),
    "shared.settings": set(),
    "shared.telemetry": {"shared.settings"},
    "shared.errors": {"shared.catalogue"},
    "shared.storage": {"shared.settings"},
    "shared.documents": {"shared.contracts", "shared.errors"},
    "shared.imaging": {"shared.errors"},
    "shared.customvision": FOUNDATION | {"shared.storage"},
    "shared.runs": FOUNDATION | {"shared.documents", "shared.storage"},
    "shared.onnx": FOUNDATION | {"shared.documents", "shared.storage"},
    "shared.classify": FOUNDATION
    | {"shared.documents", "shared.imaging", "shared.storage", "shared.customvision", "shared.onnx"},
    "shared.mirror": FOUNDATION | {"shared.imaging", "shared.storage", "shared.customvision", "shared.runs"},
    "shared.retrain": FOUNDATION
    | {"shared.documents", "shared.storage", "shared.customvision", "shared.mirror", "shared.onnx"}
    | {"shared.runs"},
    "shared.console": FOUNDATION
    | {"shared.imaging", "shared.storage", "shared.customvision", "shared.mirror", "shared.retrain"},
    "shared.schemas": {"shared.contracts", "shared.documents", "shared.runs"},
    "shared.api": FOUNDATION
    | {"shared.documents", "shared.fetch", "shared.classify", "shared.retrain", "shared.runs"},
    "shared.pipeline": {"shared.api", "shared.classify", "shared.console", "shared.customvision"}
    | {"shared.onnx", "shared.retrain", "shared.settings", "shared.storage"},
}
# Every unit may open spans and record metrics.
for _allowed in SHARED_MAY_IMPORT.values():
    _allowed.add("shared.telemetry")
SHARED_MAY_IMPORT["shared.telemetry"] = {"shared.settings"}
MAX_ROOT_MODULES = 12


def top(module: str) -> str:
    return module.split(".", 1)[0]


def unit(module: str) -> str:
    """``shared.mirror.plan`` -> ``shared.mirror``; a root module is its own unit."""
    return ".".join(module.split(".")[:2])


def shared_crossings(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if unit(module) != unit(target) and unit(target) not in SHARED_MAY_IMPORT.get(unit(module), set())
    }


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
    assert (
        "shared.classify.classifier" in import_graph("shared")["shared.pipeline"]
    )  # edges are read, not guessed
    assert find_cycle({"shared.a": {"shared.b"}, "shared.b": {"shared.a"}}) == [
        "shared.a",
        "shared.b",
        "shared.a",
    ]


def test_each_package_of_shared_imports_only_what_it_may(graph):
    shared = {name: targets for name, targets in graph.items() if top(name) == "shared" and name != "shared"}
    assert {unit(name) for name in shared} == set(SHARED_MAY_IMPORT)  # every unit has its rule
    assert shared_crossings(shared) == set()


def test_the_package_rule_sees_an_upward_import():
    assert shared_crossings({"shared.onnx.store": {"shared.customvision.clients"}}) == {
        ("shared.onnx.store", "shared.customvision.clients")
    }
    assert shared_crossings({"shared.mirror.sync": {"shared.mirror.plan", "shared.runs.record"}}) == set()


def test_shared_has_few_modules_at_its_root():
    root = [p.name for p in (PROJECT_ROOT / "shared").glob("*.py") if p.name != "__init__.py"]
    assert len(root) <= MAX_ROOT_MODULES, sorted(root)


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
