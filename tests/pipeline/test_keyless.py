"""CUSTOMVISION_AUTH=identity: the SDK clients sign in with Entra ID tokens from azure-identity, no keys.

Entra ID cannot run here. The pipeline's own DefaultAzureCredential is pointed at devstack.identity's
IdentityEndpoint, which speaks the managed identity protocol of App Service and Azure Functions
(IDENTITY_ENDPOINT, IDENTITY_HEADER) and hands out tokens of a local issuer that localvision trusts.
Where a test needs a token source that misbehaves (a wrong audience, no token at all, a clock that moves),
a small credential with azure-identity's ``get_token`` stands in for DefaultAzureCredential.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from devstack.identity import AUDIENCE, IdentityEndpoint, TokenIssuer
from localvision.server import RunningServer, ServerOptions, serve_in_thread
from shared.customvision import credentials
from shared.customvision.clients import CustomVision
from shared.customvision.credentials import REFRESH_MARGIN_SECONDS, SCOPE, TokenCredentials
from shared.errors import PermanentError
from shared.settings.definitions import Settings, SettingsError, load_settings
from tests.pipeline.test_units import VALID

ISSUER = TokenIssuer()
CLIENT_ID = "5a0b7f36-0d4c-4a53-9a32-2f4b3c1d9e10"  # the user-assigned identity of these tests
# localvision's own keys: the pipeline in identity mode never has them, so a key header would be refused.
VISION_KEYS = ("keyless-training-key", "keyless-prediction-key")
# Variables through which azure-identity could find another identity on a developer's machine.
FOREIGN = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")


@pytest.fixture(scope="module")
def vision(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("keyless")
    options = ServerOptions(trust_token_issuer=ISSUER.write_trust(folder / "trust.json"))
    server = serve_in_thread(folder / "data", *VISION_KEYS, options=options)
    yield server
    server.stop()


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityEndpoint]:
    """The managed identity endpoint, with this process's environment pointing azure-identity at it."""
    endpoint = IdentityEndpoint(ISSUER)
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    for name, value in endpoint.environment().items():
        monkeypatch.setenv(name, value)
    yield endpoint
    endpoint.stop()


def identity_settings(endpoint: str, **values: str) -> Settings:
    keyless = {k: v for k, v in VALID.items() if not k.endswith("_KEY")}
    return load_settings(
        {
            **keyless,
            "CUSTOMVISION_TRAINING_ENDPOINT": endpoint,
            "CUSTOMVISION_PREDICTION_ENDPOINT": endpoint,
            "CUSTOMVISION_AUTH": "identity",
            "AZURE_CLIENT_ID": CLIENT_ID,
            "TRANSIENT_RETRY_SECONDS": "0",
            **values,
        }
    )


class StandIn:
    """An azure-identity credential's ``get_token``, answering from a list (Entra ID cannot run here)."""

    def __init__(self, *answers: AccessToken | Exception) -> None:
        self.answers = list(answers)
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


# --- settings --------------------------------------------------------------------------------------


def test_key_mode_needs_both_keys_and_says_how_to_do_without():
    keyless = {k: v for k, v in VALID.items() if not k.endswith("_KEY")}
    with pytest.raises(SettingsError) as caught:
        load_settings(keyless)
    message = str(caught.value)
    assert "CUSTOMVISION_TRAINING_KEY is missing" in message
    assert "CUSTOMVISION_PREDICTION_KEY is missing" in message
    assert "change CUSTOMVISION_AUTH (now key)" in message
    assert load_settings(VALID).customvision_auth == "key"  # the default


def test_identity_mode_reads_no_key_not_even_an_unresolved_reference():
    reference = "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/training-key)"
    settings = identity_settings("http://127.0.0.1:5100", CUSTOMVISION_TRAINING_KEY=reference)
    assert settings.customvision_auth == "identity" and settings.azure_client_id == CLIENT_ID
    assert settings.customvision_training_key is None and settings.customvision_prediction_key is None
    assert "Key Vault" not in repr(settings) and reference not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "CUSTOMVISION_AUTH",
            "token",
            "CUSTOMVISION_AUTH='token' is not valid: must be one of key, identity",
        ),
        ("AZURE_CLIENT_ID", "my-identity", "AZURE_CLIENT_ID='my-identity' is not valid"),
    ],
)
def test_a_bad_auth_setting_is_named_at_start_up(name, value, expected):
    with pytest.raises(SettingsError) as caught:
        identity_settings("http://127.0.0.1:5100", **{name: value})
    assert expected in str(caught.value)


# --- the credentials object -------------------------------------------------------------------------


def test_a_token_is_kept_while_fresh_and_replaced_before_it_expires():
    now = [1_000_000.0]
    stand_in = StandIn(
        AccessToken("first", int(now[0]) + 3600),
        AccessToken("second", int(now[0]) + 7200),
        AccessToken("third", int(now[0]) + 20000),
    )
    tokens = TokenCredentials(stand_in, clock=lambda: now[0])
    session = requests.Session()

    tokens.signed_session(session)
    tokens.signed_session(session)
    assert session.headers["Authorization"] == "Bearer first"
    assert len(stand_in.scopes) == 1  # reused, not asked for on every call

    now[0] += 3600 - REFRESH_MARGIN_SECONDS + 1  # still valid, but too close to its end to be sent
    tokens.signed_session(session)
    assert session.headers["Authorization"] == "Bearer second"

    now[0] += 100_000  # long past the second token's expiry: a long-lived client asks again
    assert tokens.token() == "third"
    assert stand_in.scopes == [(SCOPE,)] * 3
    assert not {"training-key", "prediction-key"} & {name.lower() for name in session.headers}


def test_key_mode_sends_the_keys_and_no_token():
    training, prediction = credentials.sign_in(load_settings(VALID))
    training_headers = training.signed_session(requests.Session()).headers
    assert training_headers["Training-key"] == VALID["CUSTOMVISION_TRAINING_KEY"]
    assert prediction.signed_session(requests.Session()).headers["Prediction-key"] == "k2"
    assert "Authorization" not in training_headers


# --- against localvision ----------------------------------------------------------------------------


def test_identity_mode_signs_every_call_with_a_bearer_token_and_no_key(vision, identity, caplog):
    caplog.set_level(logging.DEBUG, logger="localvision.auth")
    cv = CustomVision(identity_settings(vision.endpoint, CUSTOMVISION_PROJECT_NAME="Keyless"))
    project_id = cv.project_id(create=True)
    assert cv.training(lambda t: t.get_project(project_id), "get project").name == "Keyless"
    with pytest.raises(PermanentError) as caught:  # past the gate: nothing is published yet
        cv.prediction(lambda p: p.classify_image(project_id, "nothing", b"x"), "classify")
    assert caught.value.code != "IdentityRefused"
    assert caught.value.service_code == "NotFoundIteration"

    signed = [r.getMessage() for r in caplog.records if r.name == "localvision.auth"]
    assert signed and all(line.endswith(f"signed with a bearer token (appid {CLIENT_ID})") for line in signed)
    assert any(line.startswith("prediction") for line in signed)
    # DefaultAzureCredential asked the identity endpoint for the configured identity, once for both clients
    assert [(r.resource, r.client_id) for r in identity.requests] == [(AUDIENCE, CLIENT_ID)]
    cv.training(lambda t: t.delete_project(project_id), "delete project")


def test_a_token_for_another_audience_is_refused_and_the_error_says_what_to_fix(vision, monkeypatch):
    wrong = ISSUER.token(CLIENT_ID, audience="https://management.azure.com")
    monkeypatch.setattr(credentials, "identity_credential", lambda settings: StandIn(AccessToken(*wrong)))
    cv = CustomVision(identity_settings(vision.endpoint))
    with pytest.raises(PermanentError) as caught:
        cv.training(lambda t: t.get_projects(), "list projects")
    assert caught.value.code == "IdentityRefused"
    assert caught.value.message.startswith("Custom Vision refused the app's Entra ID token (HTTP 401")
    assert "AZURE_CLIENT_ID" in caught.value.message and "training resource" in caught.value.message


def test_no_token_at_all_is_a_clear_error(vision, monkeypatch, caplog):
    failure = ClientAuthenticationError("ManagedIdentityCredential: no identity is assigned to this app")
    monkeypatch.setattr(credentials, "identity_credential", lambda settings: StandIn(failure))
    cv = CustomVision(identity_settings(vision.endpoint))
    with pytest.raises(PermanentError) as caught:
        cv.prediction(lambda p: p.classify_image("p", "m", b"x"), "classify")
    assert caught.value.code == "NoToken"
    assert "could not get an Entra ID token" in caught.value.message
    assert "ManagedIdentityCredential" not in caught.value.message  # the explanation goes to the log
    assert "no identity is assigned to this app" in caplog.text


def test_the_trust_file_written_for_localvision_is_what_it_reads(tmp_path: Path):
    from localvision.auth import TrustedIssuer

    trusted = TrustedIssuer.load(ISSUER.write_trust(tmp_path / "trust.json"))
    assert trusted.issuer == ISSUER.issuer and trusted.audience == AUDIENCE
    assert trusted.claims(ISSUER.token(CLIENT_ID)[0])["appid"] == CLIENT_ID
