"""Offline type check of Bicep resource bodies against Microsoft's generated Bicep type definitions.

The definitions (Azure/bicep-types-az ``generated/``, one ``types.json`` per provider and API version) are
copied into ``tests/data/specs/bicep-types-az`` (see the README there). A body is checked the way the
Bicep compiler checks it for these kinds of mistakes: every property name exists at its path (exact
case), no read-only property is set, a literal string where the type is a closed set of string literals
is one of them, literal values have the right kind (string, integer, boolean, object, array). Expressions
(function calls, interpolations, references to parameters and variables) are not evaluated; a parameter
with ``@allowed`` values is checked with each of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from devstack.paths import PROJECT_ROOT

SPECS = PROJECT_ROOT / "tests" / "data" / "specs"
BICEP_TYPES = SPECS / "bicep-types-az"
READ_ONLY = 2
WRITE_ONLY = 4
# Bicep's own keywords in a resource body, not properties of the resource type.
BICEP_KEYWORDS = frozenset({"parent", "scope", "dependsOn"})


@dataclass(frozen=True)
class Ref:
    """A type node: the types.json file it is in and its index there."""

    file: Path
    index: int


@cache
def _nodes(file: Path) -> list[dict[str, Any]]:
    return json.loads(file.read_text())


def node(ref: Ref) -> dict[str, Any]:
    return _nodes(ref.file)[ref.index]


def follow(ref: Ref, pointer: dict[str, str]) -> Ref:
    """The node a ``{"$ref": "#/N"}`` or ``{"$ref": "other/types.json#/N"}`` in ref's file points at."""
    target, _, index = pointer["$ref"].partition("#/")
    file = (ref.file.parent / target).resolve() if target else ref.file
    return Ref(file, int(index))


@cache
def resource_types() -> dict[str, Ref]:
    """``type@apiVersion`` (lower case) -> the ResourceType node, over every types.json in the specs."""
    found = {}
    for file in sorted(BICEP_TYPES.rglob("types.json")):
        for index, entry in enumerate(_nodes(file)):
            if entry.get("$type") == "ResourceType":
                found[entry["name"].lower()] = Ref(file, index)
    return found


def body_type(resource_type: str) -> Ref:
    ref = resource_types().get(resource_type.lower())
    if ref is None:
        raise LookupError(f"no type definition for {resource_type} in {BICEP_TYPES}")
    return follow(ref, node(ref)["body"])


def is_expression(value: Any, symbols: frozenset[str]) -> bool:
    """Whether a pycep value is computed at deployment (call, operator, interpolation, symbol reference)."""
    if isinstance(value, dict):
        return len(value) == 1 and next(iter(value)) in ("function", "operator")
    if isinstance(value, str):
        return "${" in value or value in symbols
    return False


@dataclass
class Checker:
    """Checks values against type nodes; ``errors`` collects one line per problem, with its path."""

    symbols: frozenset[str] = frozenset()
    allowed: dict[str, list[Any]] | None = None

    def __post_init__(self) -> None:
        self.errors: list[str] = []

    def check(self, value: Any, ref: Ref, path: str) -> None:
        if isinstance(value, str) and self.allowed and value in self.allowed:
            for candidate in self.allowed[value]:  # a parameter: each of its @allowed values must fit
                self.check(candidate, ref, f"{path} (parameter {value} = {candidate!r})")
            return
        if is_expression(value, self.symbols):
            return
        if isinstance(value, dict) and set(value) == {"loop_type", "condition", "config"}:
            value = value["config"]  # [for ...: {...}] in a property: check the item body
        kind = node(ref)["$type"]
        if kind == "ObjectType":
            self._object(value, ref, path)
        elif kind == "DiscriminatedObjectType":
            self._discriminated(value, ref, path)
        elif kind == "ArrayType":
            if isinstance(value, dict) and "loop_type" in value:
                self.check(value["config"], follow(ref, node(ref)["itemType"]), f"{path}[]")
            elif not isinstance(value, list):
                self.errors.append(f"{path}: expected an array, got {value!r}")
            else:
                for i, item in enumerate(value):
                    self.check(item, follow(ref, node(ref)["itemType"]), f"{path}[{i}]")
        elif kind in ("StringLiteralType", "UnionType"):
            self._string_set(value, ref, path)
        elif kind == "StringType":
            self._kind(value, str, "a string", path)
        elif kind == "IntegerType":
            self._kind(value, int, "an integer", path)
        elif kind == "BooleanType":
            self._kind(value, bool, "a boolean", path)

    def _kind(self, value: Any, expected: type, label: str, path: str) -> None:
        ok = isinstance(value, expected) and (expected is bool or not isinstance(value, bool))
        if not ok:
            self.errors.append(f"{path}: expected {label}, got {value!r}")

    def _object(self, value: Any, ref: Ref, path: str, extra: dict[str, Any] | None = None) -> None:
        if not isinstance(value, dict):
            self.errors.append(f"{path}: expected an object, got {value!r}")
            return
        declared = {**node(ref).get("properties", {}), **(extra or {})}
        by_lower = {name.lower(): name for name in declared}
        free = node(ref).get("additionalProperties")
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key not in declared:
                if key.lower() in by_lower:
                    self.errors.append(f"{where}: property name is spelled {by_lower[key.lower()]!r}")
                elif free is not None:
                    self.check(item, follow(ref, free), where)
                else:
                    self.errors.append(f"{where}: no such property (known: {', '.join(sorted(declared))})")
                continue
            flags = declared[key]["flags"]
            if flags & READ_ONLY and not flags & WRITE_ONLY:
                self.errors.append(f"{where}: read-only property, set by Azure")
                continue
            self.check(item, follow(ref, declared[key]["type"]), where)

    def _discriminated(self, value: Any, ref: Ref, path: str) -> None:
        spec = node(ref)
        if not isinstance(value, dict):
            self.errors.append(f"{path}: expected an object, got {value!r}")
            return
        tag = value.get(spec["discriminator"])
        if is_expression(tag, self.symbols):
            return
        if tag not in spec["elements"]:
            self.errors.append(
                f"{path}.{spec['discriminator']}: {tag!r} is not one of {sorted(spec['elements'])}"
            )
            return
        element = follow(ref, spec["elements"][tag])
        self._object(value, element, path, extra=spec.get("baseProperties", {}))

    def _string_set(self, value: Any, ref: Ref, path: str) -> None:
        members = (
            [node(ref)]
            if node(ref)["$type"] == "StringLiteralType"
            else [node(follow(ref, element)) for element in node(ref)["elements"]]
        )
        literals = [m["value"] for m in members if m["$type"] == "StringLiteralType"]
        kinds = {m["$type"] for m in members}
        if kinds == {"StringLiteralType", "StringType"}:  # an open set: any string
            self._kind(value, str, "a string", path)
            return
        if kinds != {"StringLiteralType"}:
            return  # a union of other kinds (objects, numbers): not checked further
        if value not in literals:
            self.errors.append(f"{path}: {value!r} is not one of {literals}")


def check_body(resource_type: str, body: dict[str, Any], checker: Checker, label: str) -> None:
    """Check one resource body (pycep ``config``) against its type, Bicep keywords left out."""
    fields = {key: value for key, value in body.items() if key not in BICEP_KEYWORDS}
    checker.check(fields, body_type(resource_type), label)
