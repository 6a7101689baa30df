"""Bars (measured value against its limit, PASS/FAIL), the printed table, the JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Bar:
    """A checked figure: ``value <= limit`` (``at_most``) or ``value >= limit``."""

    name: str
    value: float
    limit: float
    unit: str
    at_most: bool = True

    @property
    def passed(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def row(self) -> tuple[str, str, str, str]:
        sign = "<=" if self.at_most else ">="
        return (self.name, _fmt(self.value, self.unit), f"{sign} {_fmt(self.limit, self.unit)}", self.verdict)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


@dataclass(frozen=True)
class Check:
    """A yes/no property the run must have (e.g. every image has exactly one document)."""

    name: str
    passed: bool
    detail: str

    def row(self) -> tuple[str, str, str, str]:
        return (self.name, self.detail, "must hold", "PASS" if self.passed else "FAIL")


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "/s":
        return f"{value:.1f}/s"
    return f"{value:g} {unit}".strip()


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def figure(name: str, value: float, unit: str) -> tuple[str, str, str, str]:
    """A measured figure without a bar."""
    return (name, _fmt(value, unit), "", "")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    memory_mb = math.nan
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_mb = int(line.split()[1]) / 1024
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memoryMB": round(memory_mb),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(kind: str, data: dict[str, Any], checks: list[Bar | Check]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{kind}-{stamp}.json"
    body = {
        "kind": kind,
        "finishedAt": stamp,
        "machine": machine(),
        "bars": [{**asdict(c), "passed": c.passed} for c in checks],
        **data,
    }
    path.write_text(json.dumps(body, indent=2, default=_nan_safe), encoding="utf-8")
    return path


def _nan_safe(value: Any) -> Any:
    return str(value)
