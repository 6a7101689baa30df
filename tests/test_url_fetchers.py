"""Both URL fetchers (the pipeline's and localvision's) against a real local HTTP server: a redirect to an
invalid URL is a clear error, and a redirect to an address that embeds loopback is refused."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest

from localvision import urlfetch
from localvision.exceptions import BadRequest
from shared import fetch
from tests.support.http_server import serving


class _Redirects(http.server.BaseHTTPRequestHandler):
    locations = {"/bad": "http://[::1/x.jpg", "/nat64": "http://[64:ff9b::7f00:1]/x.jpg"}

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.locations[self.path])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_Redirects) as url:
        yield url


def test_a_redirect_to_an_invalid_url_is_a_clear_error_in_both_fetchers(server):
    with pytest.raises(fetch.FetchError) as pipeline:
        fetch.fetch_image(f"{server}/bad", allow=lambda address: True, max_bytes=1024, timeout=5)
    with pytest.raises(BadRequest) as localvision:
        urlfetch.fetch_image(f"{server}/bad", allow_private=True, max_bytes=1024, timeout=5)

    assert (pipeline.value.status, pipeline.value.code) == (422, "UrlFetchFailed")
    assert "redirected to an invalid URL" in pipeline.value.message
    assert localvision.value.code == "BadRequestImageUrl"
    assert "not a valid URL" in localvision.value.message


def test_a_redirect_to_nat64_loopback_is_refused(server):
    only_the_test_server = {"allow": lambda a: a == "127.0.0.1" or fetch.is_public(a), "max_bytes": 1024}

    with pytest.raises(fetch.FetchError) as refused:
        fetch.fetch_image(f"{server}/nat64", timeout=5, **only_the_test_server)

    assert refused.value.code == "UrlNotAllowed"
    assert "64:ff9b::7f00:1" in refused.value.message
