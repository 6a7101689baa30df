"""shared.storage.http_options: the environment's proxies and CA bundle are read once per client and
passed on; requests no longer looks them up (or ~/.netrc) on every call."""

from __future__ import annotations

import pytest

from shared import storage
from shared.settings.definitions import load_settings
from tests.pipeline.conftest import base_settings

AZURITE = "http://127.0.0.1:10000/devstoreaccount1"


@pytest.fixture
def clean_env(monkeypatch):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_without_proxies_or_bundle_only_the_per_call_lookups_are_turned_off(clean_env):
    assert storage.http_options(AZURITE) == {"use_env_settings": False}


def test_a_proxy_and_a_ca_bundle_from_the_environment_are_kept(clean_env):
    clean_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    options = storage.http_options("https://acct.blob.core.windows.net")
    assert options["proxies"] == {"https": "http://proxy.example:3128"}
    assert options["connection_verify"] == "/etc/ssl/corp.pem"
    assert options["use_env_settings"] is False


def test_no_proxy_for_the_host_means_no_proxy(clean_env):
    clean_env.setenv("HTTP_PROXY", "http://proxy.example:3128")
    clean_env.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert "proxies" not in storage.http_options(AZURITE)


def test_the_pipeline_clients_carry_the_options(clean_env, azurite_conn_str):
    clean_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    clean_env.setenv("CURL_CA_BUNDLE", "/etc/ssl/corp.pem")
    store = storage.connect(load_settings(base_settings(azurite_conn_str, "http://127.0.0.1:9", "opts")))
    for client in (store.blobs, store.queues):
        assert client._config.transport._use_env_settings is False
        assert client._config.transport.connection_config.verify == "/etc/ssl/corp.pem"
        assert not client._config.proxy_policy.proxies  # Azurite is on 127.0.0.1, in NO_PROXY
    container = store.container("http-options-check")
    container.create_container()  # the clients still work against Azurite
    assert container.exists()
