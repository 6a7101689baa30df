"""Fetch an image from a user-given URL without letting the URL reach inside the network (SSRF).

Only http/https; the host name is resolved once, every address must be public (no private, loopback,
link-local, shared, multicast or reserved range; an IPv6 address that embeds an IPv4 one - mapped,
compatible, NAT64, 6to4, Teredo - is judged by the IPv4 address it leads to), and the connection goes to
that checked address (TLS still verifies the name), so a second DNS answer cannot redirect it. Redirects
are followed by hand (at most 3), each checked the same way. Size and total time are bounded.
"""

from __future__ import annotations

import http.client
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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _nat64_local(value: int) -> list[ipaddress.IPv4Address]:
    """Every RFC 6052 place an IPv4 address can sit in under 64:ff9b:1::/48 (its prefix length is the
    operator's choice: /48, /56, /64 or /96); bits 64-71 are skipped for the shorter ones."""
    without_u = ((value >> 64) << 56) | (value & ((1 << 56) - 1))
    found = [
        ipaddress.IPv4Address((without_u >> (120 - length - 32)) & 0xFFFFFFFF) for length in (48, 56, 64)
    ]
    return [*found, ipaddress.IPv4Address(value & 0xFFFFFFFF)]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 address(es) an IPv4-embedding IPv6 address leads to (mapped, compatible, NAT64, 6to4,
    Teredo server and client), or None when ``ip`` embeds none."""
    value = int(ip)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _IPV4_COMPATIBLE or ip in _NAT64:
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in _NAT64_LOCAL:
        return _nat64_local(value)
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
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            return all(v4.is_global and not v4.is_multicast for v4 in embedded)
    return ip.is_global and not ip.is_multicast


Resolver = Callable[[str, int], list[str]]


def _shown(host: str) -> str:
    return repr(host if len(host) <= 80 else host[:77] + "...")


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses; UrlNotResolvable for whatever the resolver (or IDNA encoding) refuses."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(
            400, "UrlNotResolvable", f"The URL's host {_shown(host)} does not resolve ({exc.strerror})"
        ) from None
    except (ValueError, OSError):  # IDNA (UnicodeError): an empty label, one over 63 characters, a NUL
        raise FetchError(
            400,
            "UrlNotResolvable",
            f"The URL's host {_shown(host)} is not a valid host name (empty label, label over 63 "
            "characters, or characters a host name cannot have): check the URL",
        ) from None
    return sorted({info[4][0] for info in infos})


def _target(url: str, resolver: Resolver, allow: Callable[[str], bool]) -> tuple[str, str, int, str, str]:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        explicit_port = parts.port
    except ValueError:  # "[::1", a port out of range or not a number
        raise FetchError(400, "UrlNotAllowed", "The URL is not valid: check the host and the port") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise FetchError(400, "UrlNotAllowed", "Only absolute http:// and https:// URLs can be fetched")
    if parts.username or parts.password:
        raise FetchError(400, "UrlNotAllowed", "URLs with credentials are not fetched")
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(hostname, port)
    refused = [a for a in addresses if not allow(a)]
    if not addresses or refused:
        raise FetchError(
            400,
            "UrlNotAllowed",
            f"The URL's host {_shown(hostname)} resolves to a private, loopback or otherwise non-public "
            "address; give a public image URL or POST the image bytes instead",
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, hostname, port, addresses[0], path


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
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError):
            raise FetchError(
                422, "UrlFetchFailed", "The URL could not be fetched: the connection failed or was refused"
            ) from None
        try:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                try:
                    url = urljoin(url, response.headers["Location"])
                except ValueError:
                    raise FetchError(422, "UrlFetchFailed", "The URL redirected to an invalid URL") from None
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
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError):
        raise FetchError(422, "UrlFetchFailed", "Reading the URL failed: the connection broke off") from None
    return bytes(body)
