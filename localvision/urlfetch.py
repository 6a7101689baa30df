"""Fetch an image by URL for the ``*_url`` operations: http(s) only, bounded in time and size.

Loopback, private, link-local and other non-public addresses are refused unless the server runs with
``--allow-private-urls``. The address that was checked is the one connected to, so a second DNS answer
cannot redirect the fetch inside the network.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from localvision.exceptions import BadRequest

MAX_REDIRECTS = 3


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise BadRequest("BadRequestImageUrl", f"Cannot resolve '{host}': {error}") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        refused = [address for address in addresses if not _is_public(address)]
        if refused:
            raise BadRequest(
                "BadRequestImageUrl",
                f"'{host}' resolves to a non-public address ({refused[0]}); the server refuses such URLs "
                "unless started with --allow-private-urls",
            )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch_image(url: str, *, allow_private: bool, max_bytes: int, timeout: float = 10.0) -> bytes:
    """The bytes at ``url``; BadRequest (BadRequestImageUrl / BadRequestImageSizeBytes) on any failure."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest("BadRequestImageUrl", f"'{url}' is not an http or https URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _resolve(parts.hostname, port, allow_private)
        remaining = max(0.1, deadline - time.monotonic())
        kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = kind(parts.hostname, port, address, remaining)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            connection.request("GET", target, headers={"User-Agent": "localvision", "Accept": "image/*"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location"))
                continue
            if response.status != 200:
                raise BadRequest("BadRequestImageUrl", f"Fetching '{url}' answered HTTP {response.status}")
            return _read_bounded(response, max_bytes, deadline, url)
        except (OSError, http.client.HTTPException) as error:
            raise BadRequest("BadRequestImageUrl", f"Cannot fetch '{url}': {error}") from None
        finally:
            connection.close()
    raise BadRequest("BadRequestImageUrl", f"Too many redirects fetching '{url}'")


def _read_bounded(response: http.client.HTTPResponse, max_bytes: int, deadline: float, url: str) -> bytes:
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise BadRequest("BadRequestImageUrl", f"Fetching '{url}' took longer than the time limit")
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise BadRequest(
                "BadRequestImageSizeBytes",
                f"The image at '{url}' is larger than {max_bytes // (1024 * 1024)} MB",
            )
        chunks.append(chunk)
