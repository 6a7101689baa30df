"""The public contracts as JSON: dataclasses <-> camelCase JSON, and JSON Schema generated from the types.

The result document, the error document and the run record are plain dataclasses (shared.documents,
shared.runs.record); this module turns them into JSON-ready dicts (``encode``), reads them back
(``decode``) and derives their JSON Schema (``schema_of``). Python names are snake_case; JSON names are
their camelCase.
A field whose metadata has ``omit_if_none`` is left out of the JSON when it is None.

The published schema files are written and checked by shared.schemas.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
OMIT_IF_NONE = {"omit_if_none": True}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, sys.modules[cls.__module__].__dict__)


def encode(value: Any) -> Any:
    """A dataclass (or enum, list, dict of them) as JSON-ready data with camelCase keys."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_if_none"):
                continue
            out[camel(f.name)] = encode(item)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {encode(k): encode(v) for k, v in value.items()}
    return value


class ContractError(ValueError):
    """Stored JSON does not have the shape its type says (a field's path is in the message)."""


def decode(cls: type[T], data: Any, path: str = "$") -> T:
    """``data`` (parsed JSON) as an instance of ``cls``; missing fields take their defaults."""
    return _decode(cls, data, path)


def _decode(tp: Any, data: Any, path: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _decode(option, data, path)
            except ContractError as exc:
                errors.append(str(exc))
        raise ContractError("; ".join(errors))
    if origin is typing.Literal:
        if data not in args:
            raise ContractError(f"{path}: expected one of {list(args)}")
        return data
    if origin is list:
        if not isinstance(data, list):
            raise ContractError(f"{path}: expected a list")
        return [_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(data)]
    if origin is dict:
        if not isinstance(data, dict):
            raise ContractError(f"{path}: expected an object")
        return {_decode(args[0], k, path): _decode(args[1], v, f"{path}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            raise ContractError(f"{path}: expected one of {[m.value for m in tp]}") from None
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ContractError(f"{path}: expected an object")
        hints = _hints(tp)
        values = {}
        for f in dataclasses.fields(tp):
            key = camel(f.name)
            if key in data:
                values[f.name] = _decode(hints[f.name], data[key], f"{path}.{key}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ContractError(f"{path}: {key} is missing")
        return tp(**values)
    if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if isinstance(tp, type) and isinstance(data, tp) and not (tp is int and isinstance(data, bool)):
        return data
    raise ContractError(f"{path}: expected {getattr(tp, '__name__', tp)}")


# --- JSON Schema ------------------------------------------------------------------------------------

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return {}
    if origin in (typing.Union, types.UnionType):
        options = [_schema(a, defs) for a in args if a is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is typing.Literal:
        return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": _schema(args[0], defs)}
    if origin is dict:
        out: dict[str, Any] = {"type": "object", "additionalProperties": _schema(args[1], defs)}
        if isinstance(args[0], type) and issubclass(args[0], enum.Enum):
            out["propertyNames"] = {"enum": [m.value for m in args[0]]}
        return out
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = _object_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    raise TypeError(f"no JSON Schema for {tp!r}")


def _object_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(cls)
    properties, required = {}, []
    for f in dataclasses.fields(cls):
        key = camel(f.name)
        tp = hints[f.name]
        if f.metadata.get("omit_if_none"):  # absent rather than null: the schema allows no null
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = options[0] if len(options) == 1 else tp
        else:
            required.append(key)
        properties[key] = _schema(tp, defs)
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    out["additionalProperties"] = False
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    out.update(getattr(cls, "__schema_extra__", {}))
    return out


def schema_of(cls: type, file_name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a contract dataclass."""
    defs: dict[str, Any] = {}
    root = _object_schema(cls, defs)
    defs.pop(cls.__name__, None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": file_name,
        "title": cls.__name__,
        **root,
        **({"$defs": dict(sorted(defs.items()))} if defs else {}),
    }
