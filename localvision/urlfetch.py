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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 address(es) an IPv4-embedding IPv6 address leads to, or None when it embeds none.

    Mapped (::ffff:0:0/96), compatible (::/96), NAT64 (64:ff9b::/96; 64:ff9b:1::/48 at every RFC 6052
    place, since its prefix length is the operator's choice), 6to4 (2002::/16), Teredo server and client.
    """
    value = int(ip)
    last32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _IPV4_COMPATIBLE or ip in _NAT64:
        return [last32]
    if ip in _NAT64_LOCAL:
        without_u = ((value >> 64) << 56) | (value & ((1 << 56) - 1))  # bits 64-71 are not address bits
        return [ipaddress.IPv4Address((without_u >> (88 - n)) & 0xFFFFFFFF) for n in (48, 56, 64)] + [last32]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return None


def is_public(address: str) -> bool:
    """True only for a global unicast address; IPv4-embedding IPv6 forms are judged by what they embed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return all(v4.is_global and not v4.is_multicast for v4 in embedded)
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):  # ValueError: IDNA refuses the name (empty label, label over 63 characters)
        raise BadRequest(
            "BadRequestImageUrl", f"Cannot resolve the host '{_shown(host)}' of the image URL"
        ) from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        refused = [address for address in addresses if not is_public(address)]
        if refused:
            raise BadRequest(
                "BadRequestImageUrl",
                f"'{_shown(host)}' resolves to a non-public address ({refused[0]}); the server refuses such "
                "URLs unless started with --allow-private-urls",
            )
    return addresses[0]


def _shown(text: str) -> str:
    """``text`` for a message: control characters escaped, at most 80 characters."""
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 80 else text[:77] + "..."


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
        try:
            parts = urlsplit(url)
            hostname, explicit_port = parts.hostname, parts.port
        except ValueError:  # "[::1", a port out of range or not a number
            raise BadRequest("BadRequestImageUrl", f"'{_shown(url)}' is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not hostname:
            raise BadRequest("BadRequestImageUrl", f"'{_shown(url)}' is not an http or https URL")
        port = explicit_port or (443 if parts.scheme == "https" else 80)
        address = _resolve(hostname, port, allow_private)
        remaining = max(0.1, deadline - time.monotonic())
        kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = kind(hostname, port, address, remaining)
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
                raise BadRequest(
                    "BadRequestImageUrl", f"Fetching '{_shown(url)}' answered HTTP {response.status}"
                )
            return _read_bounded(response, max_bytes, deadline, url)
        except (OSError, http.client.HTTPException, ValueError) as error:
            if isinstance(error, ValueError):
                reason = "it or its redirect is not a valid URL"
            elif isinstance(error, OSError) and error.strerror:
                reason = error.strerror
            else:
                reason = "the connection failed"
            raise BadRequest("BadRequestImageUrl", f"Cannot fetch '{_shown(url)}': {reason}") from None
        finally:
            connection.close()
    raise BadRequest("BadRequestImageUrl", f"Too many redirects fetching '{_shown(url)}'")


def _read_bounded(response: http.client.HTTPResponse, max_bytes: int, deadline: float, url: str) -> bytes:
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise BadRequest(
                "BadRequestImageUrl", f"Fetching '{_shown(url)}' took longer than the time limit"
            )
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise BadRequest(
                "BadRequestImageSizeBytes",
                f"The image at '{_shown(url)}' is larger than {max_bytes // (1024 * 1024)} MB",
            )
        chunks.append(chunk)
