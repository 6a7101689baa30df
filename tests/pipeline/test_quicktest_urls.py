"""POST /api/classify with URLs the resolver or IDNA refuses, or that embed a non-public IPv4 address:
always a clear 400, never a 500 (real Azurite and localvision behind the app)."""

from __future__ import annotations

import json

import pytest

from shared import catalogue
from tests.hostile_urls import hostile_urls
from tests.pipeline.conftest import base_settings, http_request, response_json, unique

URL_CODES = {"UrlNotAllowed", "UrlNotResolvable"}


@pytest.fixture
def app(load_app, azurite_conn_str, localvision_endpoint):
    return load_app(base_settings(azurite_conn_str, localvision_endpoint, unique("qu")))


def post_url(app, url: str):
    body = json.dumps({"url": url}).encode()
    return app.classify_quick(http_request("POST", "classify", body, {"Content-Type": "application/json"}))


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("http://" + "a" * 64 + ".com/x.jpg", "UrlNotResolvable", "not valid or does not resolve"),
        ("http://a..b/", "UrlNotResolvable", "not valid or does not resolve"),
        ("http://\u200d.invalid/x.jpg", "UrlNotResolvable", "not valid or does not resolve"),
        ("http://nowhere.invalid/x.jpg", "UrlNotResolvable", "not valid or does not resolve"),
        ("http://[::1/x.jpg", "UrlNotAllowed", "only public"),
        ("http://example.com:99999/x.jpg", "UrlNotAllowed", "only public"),
        ("http://[64:ff9b::7f00:1]/x.jpg", "UrlNotAllowed", "only public"),
        ("http://[2002:7f00:1::]/x.jpg", "UrlNotAllowed", "only public"),
        ("http://[::127.0.0.1]/x.jpg", "UrlNotAllowed", "only public"),
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x.jpg", "UrlNotAllowed", "only public"),
    ],
)
def test_refused_urls_get_a_400_with_the_reason(app, url, code, says):
    response = post_url(app, url)

    assert response.status_code == 400
    error = response_json(response)["error"]
    assert error["code"] == code
    assert says in error["message"] and error["message"] == catalogue.text(code)


def test_no_generated_hostile_url_gets_a_500(app):
    outcomes: dict[str, tuple[int, str]] = {}
    for url in hostile_urls():
        response = post_url(app, url)
        error = response_json(response).get("error", {})
        outcomes[url] = (response.status_code, error.get("code", ""))
        message = error.get("message", "")
        assert "Traceback" not in message and "Error:" not in message and "Error(" not in message, url

    bad = {
        url: outcome for url, outcome in outcomes.items() if outcome[0] != 400 or outcome[1] not in URL_CODES
    }
    assert not bad, bad
    assert {code for _, code in outcomes.values()} == URL_CODES
