"""A local stand-in for Entra ID, which cannot run here: a token issuer and a managed identity endpoint.

``TokenIssuer`` signs access tokens (RS256, PyJWT) shaped like Entra ID's for Custom Vision (``aud``
https://cognitiveservices.azure.com, ``iss``, ``appid``, ``exp`` ...) with a key pair made at start, and
writes the trust file localvision reads (``--trust-token-issuer``: issuer, audience, JWKS).

``IdentityEndpoint`` serves those tokens over the protocol App Service and Azure Functions use for managed
identities (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``, api-version 2019-08-01). The pipeline's own
``DefaultAzureCredential`` reads those two variables and asks it for tokens, exactly as it asks the platform
in Azure: the code under test is unchanged, only the token service behind it is local.

``python -m devstack.identity --port P --state DIR`` serves it in the foreground for `make up` with
CUSTOMVISION_AUTH=identity; ``prepare(DIR)`` makes its key, secret and localvision's trust file first.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "https://cognitiveservices.azure.com"
ISSUER = "https://sts.localvision.test/00000000-0000-0000-0000-000000000000/"  # .test: reserved, never real
TENANT = "00000000-0000-0000-0000-000000000000"
# The system-assigned identity's client id when a token request names none.
SYSTEM_ASSIGNED = "11111111-1111-1111-1111-111111111111"
TOKEN_PATH = "/msi/token"
STANDARD_PORT = 5110  # `make up`'s identity endpoint


class TokenIssuer:
    """Signs Entra-shaped access tokens with a key of its own; ``trust()`` is what a verifier needs."""

    def __init__(
        self, issuer: str = ISSUER, lifetime_seconds: int = 3600, key: rsa.RSAPrivateKey | None = None
    ) -> None:
        self.issuer = issuer
        self.lifetime_seconds = lifetime_seconds
        self._key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)["n"][:16]

    @classmethod
    def from_key_file(cls, path: Path) -> TokenIssuer:
        """The issuer with the key kept in ``path`` (PEM), made there on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key: delete it to make a new one")
        return cls(key=key)

    def token(
        self,
        client_id: str = SYSTEM_ASSIGNED,
        audience: str = AUDIENCE,
        lifetime_seconds: int | None = None,
        issued_at: float | None = None,
    ) -> tuple[str, int]:
        """(token, expires_on as epoch seconds) for the identity ``client_id``."""
        now = int(time.time() if issued_at is None else issued_at)
        expires_on = now + (self.lifetime_seconds if lifetime_seconds is None else lifetime_seconds)
        claims = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": expires_on,
            "appid": client_id,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
            "tid": TENANT,
            "idtyp": "app",
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})
        return token, expires_on

    def trust(self, audience: str = AUDIENCE) -> dict[str, object]:
        """localvision's trust file: the issuer, the audience it expects and the public key as a JWKS."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.key_id, "use": "sig", "alg": "RS256"})
        return {"issuer": self.issuer, "audience": audience, "keys": [jwk]}

    def write_trust(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.trust(), indent=2), encoding="utf-8")
        return path


@dataclass
class TokenRequest:
    resource: str
    client_id: str | None


@dataclass
class IdentityEndpoint:
    """App Service's managed identity endpoint on 127.0.0.1, handing out ``issuer``'s tokens."""

    issuer: TokenIssuer
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = 0  # 0: a free one
    requests: list[TokenRequest] = field(default_factory=list)  # every token handed out, in order

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="identity-endpoint", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{TOKEN_PATH}"

    def environment(self) -> dict[str, str]:
        """The variables that point azure-identity's ManagedIdentityCredential at this endpoint."""
        return environment(self._server.server_address[1], self.secret)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)


def _handler(endpoint: IdentityEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path != TOKEN_PATH:
                return self._reply(404, {"statusCode": 404, "message": "not a token path"})
            if not secrets.compare_digest(self.headers.get("X-IDENTITY-HEADER", ""), endpoint.secret):
                return self._reply(401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is wrong"})
            resource = query.get("resource", "")
            if query.get("api-version") != "2019-08-01" or not resource:
                return self._reply(400, {"statusCode": 400, "message": "api-version or resource missing"})
            client_id = query.get("client_id")
            token, expires_on = endpoint.issuer.token(client_id or SYSTEM_ASSIGNED, audience=resource)
            endpoint.requests.append(TokenRequest(resource, client_id))
            print(f"token for {resource} (client id {client_id or 'system-assigned'})", flush=True)
            body = {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id or SYSTEM_ASSIGNED,
            }
            return self._reply(200, body)

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the tests read ``requests``

    return Handler


def state_paths(state: Path) -> tuple[Path, Path, Path]:
    """(key, secret, trust file) of a stack's identity endpoint in ``state``."""
    return state / "key.pem", state / "secret", state / "trust.json"


def prepare(state: Path) -> tuple[Path, str]:
    """Make the endpoint's key and secret in ``state`` (once) and localvision's trust file; returns the
    trust file and the secret (the IDENTITY_HEADER value)."""
    key, secret_file, trust = state_paths(state)
    issuer = TokenIssuer.from_key_file(key)
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        secret_file.chmod(0o600)
    return issuer.write_trust(trust), secret_file.read_text(encoding="utf-8").strip()


def environment(port: int, secret: str) -> dict[str, str]:
    """IDENTITY_ENDPOINT and IDENTITY_HEADER for an endpoint on ``port`` (what the Functions host sets)."""
    return {"IDENTITY_ENDPOINT": f"http://127.0.0.1:{port}{TOKEN_PATH}", "IDENTITY_HEADER": secret}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.identity", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=STANDARD_PORT)
    parser.add_argument("--state", type=Path, required=True, help="folder of the key, secret and trust file")
    args = parser.parse_args(argv)
    _, secret = prepare(args.state)
    key, _, _ = state_paths(args.state)
    endpoint = IdentityEndpoint(TokenIssuer.from_key_file(key), secret, args.port)
    print(f"managed identity endpoint (local stand-in for Entra ID) on {endpoint.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        endpoint.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
