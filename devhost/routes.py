"""HTTP route templates as the host reads them: ``{p}``, ``{p?}``, ``{p:constraint}``, ``{*rest}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from devhost.config import ConfigError

_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "alpha": r"[A-Za-z]+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
}
_PARAM = re.compile(r"\{(\*{1,2})?([A-Za-z_][A-Za-z0-9_]*)(?::([^{}=?]+(?:\([^)]*\))?))?(=[^{}?]*)?(\?)?\}")


@dataclass(frozen=True)
class Route:
    template: str
    regex: re.Pattern[str]
    literal_segments: int
    defaults: dict[str, str]

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        params = {k: v for k, v in found.groupdict().items() if v is not None}
        return {**self.defaults, **params}


def _constraint(spec: str | None, template: str) -> str:
    if not spec:
        return r"[^/]+"
    if spec.startswith("regex(") and spec.endswith(")"):
        return f"(?:{spec[6:-1]})"
    if spec in _CONSTRAINTS:
        return _CONSTRAINTS[spec]
    raise ConfigError(
        f"route {template!r}: constraint {spec!r} is not supported by devhost "
        f"(supported: {', '.join(_CONSTRAINTS)}, regex(...))"
    )


def compile_route(template: str) -> Route:
    """Compile a route template into a case-insensitive regex over the path after the route prefix."""
    template = template.strip("/")
    parts: list[str] = []
    literal = 0
    defaults: dict[str, str] = {}
    for index, segment in enumerate(template.split("/") if template else []):
        sep = "/" if index else ""
        params = list(_PARAM.finditer(segment))
        if not params:
            literal += 1
            parts.append(re.escape(sep + segment))
            continue
        whole = params[0]
        if len(params) == 1 and whole.span() == (0, len(segment)):
            catch_all, name, constraint, default, optional = whole.groups()
            pattern = r".*" if catch_all else _constraint(constraint, template)
            if default:
                defaults[name] = default[1:]
            if optional or default or catch_all:
                parts.append(f"(?:{re.escape(sep)}(?P<{name}>{pattern}))?")
            else:
                parts.append(f"{re.escape(sep)}(?P<{name}>{pattern})")
            continue
        text, pos = re.escape(sep), 0
        for param in params:
            text += re.escape(segment[pos : param.start()])
            text += f"(?P<{param.group(2)}>{_constraint(param.group(3), template)})"
            pos = param.end()
        parts.append(text + re.escape(segment[pos:]))
    return Route(template, re.compile("".join(parts), re.IGNORECASE), literal, defaults)
