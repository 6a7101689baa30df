"""The console's messages come from the pipeline's one catalogue (shared/catalogue.py)."""

from __future__ import annotations

from typing import Any

from shared.catalogue import CATALOGUE


def message_for(code: str, **details: Any) -> str:
    """The catalogue message of ``code``; details are shown as text (``!r`` quotes them)."""
    return CATALOGUE[code].message.format(**{name: str(value) for name, value in details.items()})
