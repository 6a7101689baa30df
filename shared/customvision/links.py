"""GET a link the Custom Vision service itself handed out (an image's ``originalImageUri``, an export's
``downloadUri``): signed URLs that need no key.

Deliberately not through shared.fetch's SSRF guard: these URLs are not a user's but come from the Custom
Vision resource the pipeline is configured with (in Azure SAS links to the service's storage; locally
localvision on a private address, which the guard would refuse). Still: only http(s), a size bound, a
time limit, and a connection whose answer was not read to the end never goes back to the pool.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import urllib3

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


class LinkFailed(Exception):
    """The link gave no body within the bound; ``too_large`` when the body passed it."""

    def __init__(self, *, too_large: bool = False) -> None:
        super().__init__("too large" if too_large else "failed")
        self.too_large = too_large


def get(pool: urllib3.PoolManager, url: str | None, limit: int, retries: urllib3.Retry, what: str) -> bytes:
    """The body behind ``url``, at most ``limit`` bytes; ``what`` names it in the log (never the URL: its
    query is a signature)."""
    if not url or urlsplit(url).scheme.lower() not in ("http", "https"):
        log.warning("%s: the link is not an http(s) URL", what)
        raise LinkFailed
    try:
        response = pool.request("GET", url, preload_content=False, retries=retries)
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
        log.warning("%s: the request failed: %s", what, type(error).__name__)
        raise LinkFailed from None
    complete = False
    try:
        if response.status != 200:
            log.warning("%s: the link answered HTTP %s", what, response.status)
            raise LinkFailed
        body = bytearray()
        while chunk := response.read(CHUNK):
            body += chunk
            if len(body) > limit:
                log.warning("%s: larger than %d bytes", what, limit)
                raise LinkFailed(too_large=True)
        complete = True
        return bytes(body)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        log.warning("%s: reading the answer failed: %s", what, type(error).__name__)
        raise LinkFailed from None
    finally:
        if not complete:  # a body left unread must not go back to the pool with its connection
            response.close()
        response.release_conn()
