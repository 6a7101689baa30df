"""Fetch an image from a user-given URL without letting the URL reach inside the network (SSRF).

Only http/https; the host name is resolved once, every address must be public (no private, loopback,
link-local, shared, multicast or reserved range, IPv4-mapped IPv6 included), and the connection goes to
that checked address (TLS still verifies the name), so a second DNS answer cannot redirect it. Redirects
are followed by hand (at most 3), each checked the same way. Size and total time are bounded.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import urllib3

MAX_REDIRECTS = 3
CHUNK = 64 * 1024


class FetchError(Exception):
    """``status`` is the HTTP status the quick test answers with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(
            400, "UrlNotResolvable", f"The URL's host {host!r} does not resolve: {exc}"
        ) from None
    return sorted({info[4][0] for info in infos})


def _target(url: str, resolver: Resolver, allow: Callable[[str], bool]) -> tuple[str, str, int, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(400, "UrlNotAllowed", "Only absolute http:// and https:// URLs can be fetched")
    if parts.username or parts.password:
        raise FetchError(400, "UrlNotAllowed", "URLs with credentials are not fetched")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError(400, "UrlNotAllowed", "The URL's port is not valid") from None
    addresses = resolver(parts.hostname, port)
    refused = [a for a in addresses if not allow(a)]
    if not addresses or refused:
        raise FetchError(
            400,
            "UrlNotAllowed",
            f"The URL's host {parts.hostname!r} resolves to a private, loopback or otherwise non-public "
            "address; give a public image URL or POST the image bytes instead",
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, addresses[0], path


def fetch_image(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    resolver: Resolver = resolve,
    allow: Callable[[str], bool] = is_public,
) -> bytes:
    """GET ``url``'s body, at most ``max_bytes``, within ``timeout`` seconds in all; raise FetchError."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, address, path = _target(url, resolver, allow)
        remaining = max(0.1, deadline - time.monotonic())
        pool_timeout = urllib3.Timeout(connect=min(5.0, remaining), read=remaining)
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address, port, timeout=pool_timeout, retries=False, server_hostname=host, assert_hostname=host
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=pool_timeout, retries=False)
        host_header = host if port in (80, 443) else f"{host}:{port}"
        try:
            response = pool.urlopen(
                "GET", path, headers={"Host": host_header, "Accept": "image/*"},
                redirect=False, preload_content=False, retries=False,
            )  # fmt: skip
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(
                422, "UrlFetchFailed", f"The URL could not be fetched: {type(exc).__name__}"
            ) from None
        try:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status != 200:
                raise FetchError(
                    422, "UrlFetchFailed", f"The URL answered HTTP {response.status}, not an image"
                )
            return _read_limited(response, max_bytes, deadline)
        finally:
            response.release_conn()
            pool.close()
    raise FetchError(422, "UrlFetchFailed", f"The URL redirected more than {MAX_REDIRECTS} times")


def _read_limited(response: urllib3.BaseHTTPResponse, max_bytes: int, deadline: float) -> bytes:
    too_big = FetchError(413, "ImageTooLarge", f"The image at the URL is larger than {max_bytes} bytes")
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    body = bytearray()
    try:
        while chunk := response.read(CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise too_big
            if time.monotonic() > deadline:
                raise FetchError(422, "UrlFetchFailed", "Fetching the URL took longer than the time limit")
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(422, "UrlFetchFailed", f"Reading the URL failed: {type(exc).__name__}") from None
    return bytes(body)
