"""Reading infra/ offline: every Bicep file parsed with pycep-parser, and small lookups into its tree.

pycep gives each file as a dict with ``parameters``, ``variables``, ``resources``, ``modules`` and
``outputs``. It does not resolve expressions: a string literal and a bare identifier both come out as
plain strings, and expressions as ``{"function": ...}`` / ``{"operator": ...}`` nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

from devstack.paths import PROJECT_ROOT

INFRA = PROJECT_ROOT / "infra"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parse_source(text: str) -> dict[str, Any]:
    """The pycep tree of Bicep source, parsed once per distinct text (parsing all of infra/ takes 0.5 s of
    CPU, and the rules read it many times over): the trees are shared, so callers only read them."""
    return BicepParser().parse(text=text)


def parse(path: Path) -> dict[str, Any]:
    """The pycep tree of one file; raises lark's UnexpectedInput (with line and column) on a syntax error."""
    return parse_source(path.read_text())


def _unwrap(resource: dict[str, Any]) -> dict[str, Any]:
    """pycep nests a conditional resource's body as ``config: {condition, config}``; lift it to ``config``."""
    config = resource["config"]
    if set(config) == {"condition", "config"}:
        return {**resource, "config": config["config"], "condition": config["condition"]}
    return resource


def resources(resource_type: str) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """(file, symbolic name, resource) of every declared (not ``existing``) resource of one type.

    A conditional resource (``= if (...) {...}``) carries its condition under ``condition``.
    """
    for path in bicep_files():
        for symbol, resource in parse(path).get("resources", {}).items():
            if resource["type"] == resource_type and not resource.get("existing"):
                yield path, symbol, _unwrap(resource)


def only_resource(resource_type: str) -> tuple[Path, dict[str, Any]]:
    found = [(path, resource) for path, _, resource in resources(resource_type)]
    assert len(found) == 1, f"expected one {resource_type} in infra/, found {len(found)}"
    return found[0]


def function_app() -> tuple[Path, dict[str, Any]]:
    """The file and resource of the function app (Microsoft.Web/sites of kind functionapp)."""
    apps = [
        (path, resource)
        for path, _, resource in resources("Microsoft.Web/sites")
        if "functionapp" in str(resource["config"].get("kind", ""))
    ]
    assert len(apps) == 1, f"expected one function app in infra/, found {len(apps)}"
    return apps[0]


def app_settings() -> dict[str, Any]:
    """The function app's appSettings, name -> value node, as declared in siteConfig.appSettings."""
    _, app = function_app()
    entries = app["config"]["properties"]["siteConfig"]["appSettings"]
    names = [entry["name"] for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"app settings declared twice: {duplicates}"
    return {entry["name"]: entry["value"] for entry in entries}


def literal(path: Path, value: Any) -> str | None:
    """The string a value takes when it is a literal or a parameter with a literal default, else None."""
    if not isinstance(value, str) or "${" in value:
        return None
    param = parse(path).get("parameters", {}).get(value)
    if param is None:
        return value
    default = param.get("default")
    return default if isinstance(default, str) else None


def property_accessor(node: Any) -> tuple[str, str] | None:
    """(``a``, ``b``) for an ``a.b`` expression node, else None."""
    if isinstance(node, dict) and node.get("operator", {}).get("type") == "property_accessor":
        operands = node["operator"]["operands"]
        return operands["operand_1"], operands["operand_2"]
    return None


def dotted(node: Any) -> str:
    """``a.b.c`` for a property accessor chain, ``a::b`` for a nested resource, ``f()`` for a call without
    arguments; the node as text otherwise."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "operator" in node:
        operator = node["operator"]
        operands = operator.get("operands", {})
        if operator["type"] == "property_accessor":
            return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"
        if operator["type"] == "nested_resource_accessor":
            return f"{dotted(operands['operand_1'])}::{dotted(operands['operand_2'])}"
    if isinstance(node, dict) and "function" in node and not node["function"]["parameters"]:
        return f"{node['function']['type']}()"
    return str(node)


def branches(value: Any) -> list[Any]:
    """The values a setting may take: both branches of ``condition ? a : b``, else the value itself."""
    if isinstance(value, dict) and value.get("operator", {}).get("type") == "conditional":
        operands = value["operator"]["operands"]
        return [*branches(operands["true_value"]), *branches(operands["false_value"])]
    return [value]


def module_params(name: str) -> dict[str, Any]:
    """The parameters main.bicep passes to one module (inside ``if (...)`` when the module is conditional)."""
    config = parse(INFRA / "main.bicep")["modules"][name]["config"]
    if set(config) == {"condition", "config"}:
        config = config["config"]
    return config.get("params", {})
