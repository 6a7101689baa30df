"""The console's request and response, free of azure.functions, and the headers every response carries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.console.catalogue import message_for
from shared.errors import PipelineError

# No inline script, no plug-ins, no framing; images only from the app itself or blob:/data: URLs the page
# makes from bytes it fetched with the key.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class ConsoleRequest:
    method: str
    path: str  # after console-api/
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; raises BadRequest naming what is wrong."""
        try:
            data = json.loads(self.body or b"null")
        except ValueError:
            raise BadRequest("BadConsoleRequest") from None
        if not isinstance(data, dict):
            raise BadRequest("BadConsoleRequest")
        return data

    def text(self, name: str, *, required: bool = True) -> str:
        """A string field of the JSON body."""
        value = self.json().get(name)
        if isinstance(value, str) and value:
            return value
        if required:
            raise BadRequest("MissingField", field=name)
        return ""


@dataclass(frozen=True)
class ConsoleResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class ConsoleError(Exception):
    """A refusal answered with a status and a catalogue message."""

    status = 400

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.message = message_for(code, **details)


class BadRequest(ConsoleError):
    status = 400


class NotFound(ConsoleError):
    status = 404


class Conflict(ConsoleError):
    status = 409


class Unprocessable(ConsoleError):
    status = 422


class CatalogueRefusal(ConsoleError):
    """The pipeline's own refusal of an image (NotAnImage, ImageTooSmall...), answered 422."""

    status = 422

    def __init__(self, error: PipelineError) -> None:
        Exception.__init__(self, error.code)
        self.code, self.message = error.code, error.message


def respond(
    status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
) -> ConsoleResponse:
    return ConsoleResponse(status, body, content_type, {**SECURITY_HEADERS, **(headers or {})})


def json_reply(data: Any, status: int = 200) -> ConsoleResponse:
    body = json.dumps(data, ensure_ascii=False).encode()
    return respond(status, body, "application/json; charset=utf-8", {"Cache-Control": "no-store"})


def error_reply(status: int, code: str, message: str) -> ConsoleResponse:
    return json_reply({"error": {"code": code, "message": message}}, status)
