"""The published JSON Schema files, docs/schemas/, generated from the contract types.

``python -m shared.schemas write`` regenerates them; ``python -m shared.schemas check`` fails when they differ
from the types (a test does the same). Kept apart from shared.contracts, which the contract types import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.contracts import schema_of
from shared.documents import ErrorDocument, ResultDocument
from shared.runs.record import RunRecord

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas"
FILES = {
    "result-document.schema.json": ResultDocument,
    "error-document.schema.json": ErrorDocument,
    "run-record.schema.json": RunRecord,
}


def published() -> dict[str, dict[str, Any]]:
    """File name -> schema for every published contract."""
    return {name: schema_of(cls, name) for name, cls in FILES.items()}


def rendered(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command not in ("write", "check"):
        print("usage: python -m shared.schemas write|check", file=sys.stderr)
        return 2
    stale = []
    for name, schema in published().items():
        path = SCHEMA_DIR / name
        text = rendered(schema)
        if command == "write":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.is_file() or path.read_text() != text:
            stale.append(name)
    if stale:
        print(f"out of date in docs/schemas/: {', '.join(stale)}; run python -m shared.schemas write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
