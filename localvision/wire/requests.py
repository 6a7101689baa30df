"""One routed request (``Call``): its query values, JSON body and images, read with the service's errors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from localvision import exceptions as errors


class Query:
    """Query parameters, matched case-insensitively; bad values answer 400 naming the parameter."""

    def __init__(self, raw: str) -> None:
        self._values: dict[str, str] = {}
        for key, value in parse_qsl(raw, keep_blank_values=True):
            self._values.setdefault(key.lower(), value)

    def text(self, name: str) -> str | None:
        return self._values.get(name.lower())

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None or value == "":
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise errors.QUERY_FLAG.error(name=name, value=value)

    def integer(self, name: str, default: int) -> int:
        return self._converted(name, default, int, "an integer")

    def number(self, name: str, default: float) -> float:
        return self._converted(name, default, float, "a number")

    def _converted(self, name: str, default: Any, convert: Callable[[str], Any], kind: str) -> Any:
        value = self.text(name)
        if value is None or value == "":
            return default
        try:
            return convert(value)
        except ValueError:
            raise errors.QUERY_NUMBER.error(name=name, kind=kind, value=value) from None

    def csv(self, name: str, limit: int | None = None) -> tuple[str, ...]:
        value = self.text(name)
        items = tuple(item.strip() for item in value.split(",") if item.strip()) if value else ()
        if limit is not None and len(items) > limit:
            raise errors.QUERY_TOO_MANY.error(name=name, limit=limit)
        return items


@dataclass(frozen=True)
class Call:
    """One request, already routed: path parameters (decoded), query, content type, body, own base URL."""

    params: dict[str, str]
    query: Query
    content_type: str
    body: bytes
    base_url: str = ""  # scheme://host:port as the client reached us, for the links we hand out

    def json(self) -> Any:
        """The JSON body, or None when there is none (the SDK sends an empty body with a JSON type)."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: nested too deep
            raise errors.BODY_NOT_JSON.error() from None

    def images(self) -> list[tuple[str, bytes]]:
        """The images in a multipart or application/octet-stream body: (file name or "", bytes)."""
        media = self.content_type.split(";")[0].strip().lower()
        if media.startswith("multipart/"):
            return multipart_parts(self.body, self.content_type)
        if media in ("application/octet-stream", "image/jpeg", "image/png", "image/bmp", "image/gif", ""):
            if not self.body:
                raise errors.NO_IMAGE.error()
            return [("", self.body)]
        raise errors.UNSUPPORTED_MEDIA_TYPE.error(content_type=self.content_type)

    def one_image(self) -> bytes:
        return self.images()[0][1]


def _boundary(content_type: str) -> bytes:
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    raise errors.NO_BOUNDARY.error()


def multipart_parts(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """Every part's (filename or name, raw bytes), filename or not (the SDK sends none with bytes)."""
    delimiter = b"--" + _boundary(content_type)
    parts: list[tuple[str, bytes]] = []
    position = body.find(delimiter)
    while position >= 0:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            break
        headers_end = body.find(b"\r\n\r\n", position)
        if headers_end < 0:
            break
        end = body.find(b"\r\n" + delimiter, headers_end + 4)
        if end < 0:
            break
        parts.append((_part_name(body[position:headers_end]), body[headers_end + 4 : end]))
        position = end + 2
    if not parts:
        raise errors.NO_PART.error()
    return parts


def _part_name(headers: bytes) -> str:
    name = ""
    for line in headers.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-disposition:"):
            for piece in line.split(";")[1:]:
                key, _, value = piece.strip().partition("=")
                if key.lower() == "filename":
                    return value.strip('"')
                if key.lower() == "name":
                    name = value.strip('"')
    return name


def decode_base64(text: str) -> bytes:
    """Standard base64 with padding, as the SDK sends ``ImageFileCreateEntry.contents``."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
