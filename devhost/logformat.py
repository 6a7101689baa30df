"""Log lines that cannot be forged or garbled by what a request carries.

Route paths, blob names and messages reach the log; a raw newline would start a fake log line and an ESC
would drive the terminal. Every non-printable character (controls, format characters such as bidi
overrides, lone surrogates) is written as its Python escape: ``\\x00``, ``\\n``, ``\\x1b``, ``\\u202e``.
A traceback keeps the line breaks of its frames; the exception's own text is escaped like a message.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType

_STRUCTURE = ("Traceback (most recent call last):", "  File ", "\nDuring handling", "\nThe above exception")


def escape_unprintable(text: str) -> str:
    """``text`` with each non-printable character replaced by its backslash escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _escape_lines(text: str) -> str:
    return "\n".join(escape_unprintable(line) for line in text.split("\n"))


class EscapingFormatter(logging.Formatter):
    """A Formatter whose output has no raw control characters but the line breaks of a traceback."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_unprintable(super().formatMessage(record))

    def formatException(
        self, ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
    ) -> str:
        if ei[1] is None:
            return ""
        chunks = traceback.TracebackException.from_exception(ei[1]).format()
        out = []
        for chunk in chunks:
            body = chunk.removesuffix("\n")
            out.append(_escape_lines(body) if chunk.startswith(_STRUCTURE) else escape_unprintable(body))
        return "\n".join(out)

    def formatStack(self, stack_info: str) -> str:
        return _escape_lines(stack_info)
