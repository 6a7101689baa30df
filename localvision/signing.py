"""Signed, time-limited links that work without a key, like the service's SAS links.

A link is ``{path}?se={expiry}&sig={signature}``: an HMAC-SHA256 over the path and the expiry (Unix seconds)
with a per-server secret kept in the data folder (``signing.key``, created on first start, readable by its
owner only). The secret is never a training or prediction key, so a link grants that one path and nothing
else, until it expires. Image links use it; any other download (an exported model) can too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlencode

SECRET_FILE = "signing.key"
DEFAULT_TTL_SECONDS = 24 * 3600
# An expiry is Unix seconds in ASCII digits; 12 digits last until the year 33658. Anything else (a
# superscript digit that ``str.isdigit`` accepts, thousands of digits past Python's int-string limit)
# is a bad link like any other, never an exception.
_EXPIRY = re.compile(r"[0-9]{1,12}")


def load_or_create_secret(data_dir: Path) -> bytes:
    """The server's signing secret from ``data_dir/signing.key``, created (mode 0600) if missing."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


class UrlSigner:
    """Signs paths and checks signed ones; ``clock`` returns Unix seconds (replaceable in tests)."""

    def __init__(
        self, secret: bytes, ttl_seconds: int = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must have at least 16 bytes")
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _signature(self, path: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, path: str, expires: int | None = None) -> str:
        """``path`` with the query that makes it a valid link until ``expires`` (default: now + ttl)."""
        if expires is None:
            expires = int(self._clock()) + self.ttl_seconds
        return f"{path}?{urlencode({'se': expires, 'sig': self._signature(path, expires)})}"

    def verify(self, path: str, query: Mapping[str, str]) -> bool:
        """Whether ``query`` holds an unexpired signature of ``path``."""
        expires, signature = query.get("se", ""), query.get("sig", "")
        if not _EXPIRY.fullmatch(expires) or not signature.isascii():
            return False
        if int(expires) < self._clock():
            return False
        return hmac.compare_digest(signature, self._signature(path, int(expires)))
