"""Bearer tokens: localvision accepts tokens of the issuer it is told to trust, besides the keys.

Entra ID itself cannot run here: a local issuer (devstack.identity.TokenIssuer, an RSA key made for the
test) stands in for it, and localvision trusts it through ``--trust-token-issuer`` (issuer, audience, JWKS).
The checks are the ones Custom Vision applies to an Entra token: signature, audience
https://cognitiveservices.azure.com, issuer, expiry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException
from msrest.authentication import BasicTokenAuthentication

from devstack.identity import TokenIssuer
from localvision import cli
from localvision.auth import TOKEN_REFUSED
from localvision.server import RunningServer, ServerOptions, serve_in_thread
from localvision.wire.replies import ACCESS_DENIED
from tests.conftest import PREDICTION_KEY, TRAINING_KEY

ISSUER = TokenIssuer()


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """localvision that trusts ISSUER's tokens (and still takes its keys)."""
    folder = tmp_path_factory.mktemp("tokens")
    options = ServerOptions(trust_token_issuer=ISSUER.write_trust(folder / "trust.json"))
    server = serve_in_thread(folder / "data", TRAINING_KEY, PREDICTION_KEY, options=options)
    yield server
    server.stop()


def _projects(endpoint: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{endpoint}/customvision/v3.3/training/projects", headers=headers, timeout=10)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_token_refused(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.reason == "Access Denied"
    assert response.json() == TOKEN_REFUSED
    assert (
        "audience is incorrect (https://cognitiveservices.azure.com)" in response.json()["error"]["message"]
    )


def test_a_token_of_the_trusted_issuer_opens_training_and_prediction(trusting):
    token, _ = ISSUER.token()
    client = CustomVisionTrainingClient(trusting.endpoint, BasicTokenAuthentication({"access_token": token}))
    project = client.create_project("by token")
    try:
        assert [p.name for p in client.get_projects() if p.id == project.id] == ["by token"]
        url = f"{trusting.endpoint}/customvision/v3.0/prediction/{project.id}/classify/iterations/none/image"
        answer = requests.post(url, data=b"x", headers=_bearer(token), timeout=10)
        # past the gate: the project has nothing published, which only an authorised caller learns
        assert answer.status_code == 404 and answer.json()["code"] == "NotFoundIteration", answer.text
    finally:
        client.delete_project(project.id)


@pytest.mark.parametrize(
    "case",
    ["wrong audience", "wrong issuer", "expired", "not yet valid", "other key", "unsigned", "garbage"],
)
def test_a_bad_token_is_refused_in_the_services_shape(trusting, case):
    other = TokenIssuer()  # a key localvision was not told about, with the same issuer name
    token = {
        "wrong audience": lambda: ISSUER.token(audience="https://management.azure.com")[0],
        "wrong issuer": lambda: TokenIssuer(issuer="https://sts.windows.net/other/").token()[0],
        # beyond localvision's 60 s leeway for clock skew
        "expired": lambda: ISSUER.token(issued_at=time.time() - 3600, lifetime_seconds=3000)[0],
        "not yet valid": lambda: ISSUER.token(issued_at=time.time() + 600)[0],
        "other key": lambda: other.token()[0],
        "unsigned": lambda: jwt.encode(
            jwt.decode(ISSUER.token()[0], options={"verify_signature": False}), None, algorithm="none"
        ),
        "garbage": lambda: "not-a-token",
    }[case]()
    _assert_token_refused(_projects(trusting.endpoint, _bearer(token)))


def test_the_sdk_shows_the_refusal_of_a_wrong_audience(trusting):
    token, _ = ISSUER.token(audience="https://storage.azure.com")
    client = CustomVisionTrainingClient(trusting.endpoint, BasicTokenAuthentication({"access_token": token}))
    with pytest.raises(CustomVisionErrorException) as caught:
        client.get_projects()
    assert caught.value.response.status_code == 401
    assert "Access token is missing, invalid, audience is incorrect" in caught.value.response.text


def test_a_key_header_is_judged_by_the_key_even_beside_a_good_token(trusting):
    token, _ = ISSUER.token()
    for key in ("", "wrong-key"):
        response = _projects(trusting.endpoint, {**_bearer(token), "Training-Key": key})
        assert response.status_code == 401 and response.json() == ACCESS_DENIED
    assert _projects(trusting.endpoint, {"Training-Key": TRAINING_KEY}).status_code == 200


def test_without_a_trusted_issuer_a_token_opens_nothing(localvision_endpoint):
    response = _projects(localvision_endpoint, _bearer(ISSUER.token()[0]))
    assert response.status_code == 401 and response.json() == ACCESS_DENIED


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the token issuer file"),
        ("{not json", "cannot read the token issuer file"),
        ('{"keys": []}', "must be a JSON object with 'issuer' and 'keys'"),
        ('{"issuer": "https://x/", "keys": [{"kty": "RSA"}]}', "holds no usable public key"),
    ],
)
def test_the_cli_names_a_bad_trust_file(tmp_path: Path, capsys, content, expected):
    trust = tmp_path / "trust.json"
    if content is not None:
        trust.write_text(content)
    args = ["--data", str(tmp_path / "data"), "--training-key", "k", "--prediction-key", "p"]
    with pytest.raises(SystemExit) as exited:
        cli.main([*args, "--trust-token-issuer", str(trust)])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert expected in error and str(trust) in error
    assert "Traceback" not in error


def test_the_trust_file_is_issuer_audience_and_a_jwks():
    trust = ISSUER.trust()
    assert trust["issuer"] == ISSUER.issuer and trust["audience"] == "https://cognitiveservices.azure.com"
    (key,) = trust["keys"]
    assert key["kty"] == "RSA" and key["kid"] == ISSUER.key_id and "d" not in key  # public half only
    assert json.loads(json.dumps(trust)) == trust
