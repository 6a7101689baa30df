"""LeanSession (shared.storage and devhost.connections): requests are prepared exactly as requests'
own Session prepares them, with less CPU; anything beyond the plain case falls back to requests' code."""

from __future__ import annotations

import io

import pytest
import requests

from devhost import connections
from shared import storage
from shared.settings import load_settings
from tests.pipeline.conftest import base_settings

SESSIONS = [storage.lean_session, connections.lean_session]
URL = "http://127.0.0.1:10000/devstoreaccount1/images/a%20b/%C3%A9.jpg?comp=block&blockid=AA%3D%3D"


def plain_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # as azure-core's transport sets it with use_env_settings=False
    return session


def requests_like_the_sdks() -> list[requests.Request]:
    headers = {"x-ms-version": "2025-01-05", "Content-Type": "application/json", "Accept": None}
    return [
        requests.Request("PUT", URL, headers=headers, data=b'{"a": 1}'),
        requests.Request("get", URL, headers={"Range": "bytes=0-99", "x-ms-date": "Mon"}),
        requests.Request("POST", URL, headers={"User-Agent": "sdk/1.0"}, data=io.BytesIO(b"stream")),
        requests.Request("GET", "http://localhost:5000/x", params={"q": "a b", "n": 2}),
        requests.Request("POST", "http://localhost:5000/x", json={"k": ["v"]}),
    ]


def prepared(session: requests.Session, request: requests.Request) -> tuple[object, ...]:
    p = session.prepare_request(request)
    return p.method, p.url, dict(p.headers), p.body, p.hooks


@pytest.mark.parametrize("make", SESSIONS)
def test_requests_are_prepared_exactly_as_requests_prepares_them(make):
    lean, plain = make(), plain_session()
    for request in requests_like_the_sdks():
        assert prepared(lean, request) == prepared(plain, request)
    # the None header removed, the request's headers over the session's defaults
    headers = lean.prepare_request(requests_like_the_sdks()[0]).headers
    assert "Accept" not in headers and headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == "8" and headers["Connection"] == "keep-alive"


@pytest.mark.parametrize("make", SESSIONS)
def test_environment_settings_merge_as_requests_merges_them(make):
    lean, plain = make(), plain_session()
    for session in (lean, plain):
        session.proxies = {"http": "http://proxy.example:3128", "https": "http://other:1"}
        session.verify = "/etc/ssl/corp.pem"
    for args in (
        ({"https": None, "ftp": "http://f:1"}, None, None, None),
        ({}, True, False, ("c.pem", "k.pem")),
        (None, None, True, "client.pem"),
    ):
        assert lean.merge_environment_settings(URL, *args) == plain.merge_environment_settings(URL, *args)


@pytest.mark.parametrize("make", SESSIONS)
def test_cookies_or_auth_fall_back_to_requests_own_preparation(make):
    lean, plain = make(), plain_session()
    for session in (lean, plain):
        session.cookies.set("affinity", "node-2", domain="127.0.0.1", path="/")
    request = requests.Request("GET", URL, auth=("user", "secret"))
    assert prepared(lean, request) == prepared(plain, request)
    headers = lean.prepare_request(request).headers
    assert headers["Cookie"] == "affinity=node-2" and headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize("make", SESSIONS)
def test_the_session_is_set_up_like_the_sdks_own(make):
    session = make()
    assert session.trust_env is False
    for scheme in ("http://", "https://"):
        retries = session.adapters[scheme].max_retries
        assert retries.total is False and not retries.redirect  # the SDK's retry policy retries


def test_the_storage_clients_use_it_and_work(azurite_conn_str):
    store = storage.connect(load_settings(base_settings(azurite_conn_str, "http://127.0.0.1:9", "lean")))
    assert store.blobs._config.transport.session is not store.queues._config.transport.session
    for client in (store.blobs, store.queues):
        assert isinstance(client._config.transport.session, storage.LeanSession)
    container = store.container("lean-session-check")
    container.create_container()
    storage.write_json(container, "doc.json", {"fruit": "pomme é"})
    stored = storage.read_json(container, "doc.json")
    assert stored is not None and stored.data == {"fruit": "pomme é"}
    with pytest.raises(storage.ResourceExistsError):
        storage.write_json(container, "doc.json", {"fruit": "other"})  # create-only still conditional


def test_the_devhost_clients_use_it(monkeypatch, azurite_conn_str):
    monkeypatch.setenv("AzureWebJobsStorage", azurite_conn_str)
    clients = connections.Clients()
    blob, queue = clients.blob(None), clients.queue(None)
    for client in (blob, queue):
        assert isinstance(client._config.transport.session, connections.LeanSession)
    container = blob.get_container_client("lean-devhost-check")
    container.create_container()
    container.upload_blob("x/y z.bin", b"abc")
    assert container.download_blob("x/y z.bin").readall() == b"abc"
