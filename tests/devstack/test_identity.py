"""The local stand-in for Entra ID (devstack.identity) and `make up`'s identity mode switch.

Entra ID cannot run here; these check the stand-in itself: it answers the managed identity protocol of
App Service only with the right secret, and its tokens are what localvision's trust file lets through.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from devstack import background
from devstack.identity import AUDIENCE, STANDARD_PORT, IdentityEndpoint, TokenIssuer, prepare
from localvision.auth import TrustedIssuer

FILE_KEYS = {
    "CUSTOMVISION_TRAINING_KEY": "file-training-key",
    "CUSTOMVISION_PREDICTION_KEY": "file-prediction-key",
}


def test_the_endpoint_hands_out_tokens_only_to_the_holder_of_the_secret(tmp_path: Path):
    endpoint = IdentityEndpoint(TokenIssuer())
    try:
        query = {
            "api-version": "2019-08-01",
            "resource": AUDIENCE,
            "client_id": "c0ffee00-0000-4000-8000-000000000001",
        }
        refused = requests.get(endpoint.url, params=query, headers={"X-IDENTITY-HEADER": "guess"}, timeout=10)
        assert refused.status_code == 401 and not endpoint.requests
        secret = endpoint.environment()["IDENTITY_HEADER"]
        answer = requests.get(endpoint.url, params=query, headers={"X-IDENTITY-HEADER": secret}, timeout=10)
        assert answer.status_code == 200
        body = answer.json()
        assert body["token_type"] == "Bearer" and body["resource"] == AUDIENCE
        trusted = TrustedIssuer.load(endpoint.issuer.write_trust(tmp_path / "trust.json"))
        claims = trusted.claims(body["access_token"])
        assert claims["appid"] == query["client_id"] and claims["exp"] == int(body["expires_on"])
    finally:
        endpoint.stop()


def test_the_stacks_issuer_key_is_made_once_and_kept(tmp_path: Path):
    trust, secret = prepare(tmp_path)
    again_trust, again_secret = prepare(tmp_path)
    assert again_secret == secret and again_trust.read_text() == trust.read_text()
    assert (tmp_path / "key.pem").stat().st_mode & 0o077 == 0  # readable by its owner only


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(background, "LOCAL", tmp_path)
    return tmp_path


def test_make_up_in_identity_mode_adds_the_endpoint_and_gives_localvision_keys_nobody_has(local, monkeypatch):
    monkeypatch.setenv("CUSTOMVISION_AUTH", "identity")  # a variable wins over the file, as in Core Tools
    services = {s.name: s for s in background.services({"Values": {**FILE_KEYS, "CUSTOMVISION_AUTH": "key"}})}
    assert list(services) == ["azurite", "identity", "localvision", "devhost"]
    vision = services["localvision"]
    trust = Path(vision.command[vision.command.index("--trust-token-issuer") + 1])
    assert TrustedIssuer.load(trust).audience == AUDIENCE
    assert not set(FILE_KEYS.values()) & set(vision.env.values()) and all(vision.env.values())
    secret = (local / "identity" / "secret").read_text()
    assert services["devhost"].env == {
        "IDENTITY_ENDPOINT": f"http://127.0.0.1:{STANDARD_PORT}/msi/token",
        "IDENTITY_HEADER": secret,
    }
    assert any(
        "identity" in line and "/msi/token" in line for line in background.describe({"Values": FILE_KEYS})
    )


def test_make_up_in_key_mode_is_as_before(local, monkeypatch):
    monkeypatch.delenv("CUSTOMVISION_AUTH", raising=False)
    services = {s.name: s for s in background.services({"Values": FILE_KEYS})}
    assert list(services) == ["azurite", "localvision", "devhost"]
    assert "--trust-token-issuer" not in services["localvision"].command
    assert sorted(services["localvision"].env.values()) == sorted(FILE_KEYS.values())
    assert services["devhost"].env == {}
