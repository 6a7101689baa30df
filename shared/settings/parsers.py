"""Parsers of setting values: each returns the parsed value or raises ValueError saying what is expected."""

from __future__ import annotations

import re
from collections.abc import Callable
from uuid import UUID


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be more than 0")
    return value


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueError(f"must be one of {', '.join(choices)}")

    return parse


def http_url(text: str) -> str:
    if not re.match(r"^https?://[^/\s]+", text):
        raise ValueError("must be an http(s) URL such as https://<name>.cognitiveservices.azure.com/")
    return text.rstrip("/")


def guid(text: str) -> str:
    return str(UUID(text))


def resource_id(text: str) -> str:
    pattern = (
        r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices/accounts/[^/]+"
    )
    if not re.fullmatch(pattern, text, flags=re.IGNORECASE):
        raise ValueError(
            "must be the prediction resource's Azure resource id, /subscriptions/<id>/resourceGroups/<group>"
            "/providers/Microsoft.CognitiveServices/accounts/<name>"
        )
    return text


def ncrontab(text: str) -> str:
    """A six-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week}), as the
    Functions timer trigger takes it; checked field by field with croniter."""
    from croniter import croniter  # imported here: only start-up validation needs it

    if len(text.split()) != 6 or not croniter.is_valid(text, second_at_beginning=True):
        raise ValueError(
            "must be a valid six-field NCRONTAB expression: {second} {minute} {hour} {day} {month} "
            "{day-of-week}, e.g. 0 0 3 * * *"
        )
    return text


def container_name(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", text):
        raise ValueError("must be a valid blob container name (3-63 lowercase letters, digits, hyphens)")
    return text


def queue_name(text: str) -> str:
    """A queue name short enough to take the host's "-poison" suffix (56 characters at most)."""
    if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,54}[a-z0-9]", text):
        raise ValueError(
            "must be a valid queue name of 3-56 lowercase letters, digits and hyphens (the host adds -poison)"
        )
    return text


def publish_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", text):
        raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
    return text


def folder_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > 256 or "/" in name:
        raise ValueError("must be a folder name of 1 to 256 characters, without '/'")
    return name
