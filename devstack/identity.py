"""A local stand-in for Entra ID, which cannot run here: a token issuer and a managed identity endpoint.

``TokenIssuer`` signs access tokens (RS256, PyJWT) shaped like Entra ID's for Custom Vision (``aud``
https://cognitiveservices.azure.com, ``iss``, ``appid``, ``exp`` ...) with a key pair made at start, and
writes the trust file localvision reads (``--trust-token-issuer``: issuer, audience, JWKS).

``IdentityEndpoint`` serves those tokens over the protocol App Service and Azure Functions use for managed
identities (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``, api-version 2019-08-01). The pipeline's own
``DefaultAzureCredential`` reads those two variables and asks it for tokens, exactly as it asks the platform
in Azure: the code under test is unchanged, only the token service behind it is local.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "https://cognitiveservices.azure.com"
ISSUER = "https://sts.localvision.test/00000000-0000-0000-0000-000000000000/"  # .test: reserved, never real
TENANT = "00000000-0000-0000-0000-000000000000"
# The system-assigned identity's client id when a token request names none.
SYSTEM_ASSIGNED = "11111111-1111-1111-1111-111111111111"
TOKEN_PATH = "/msi/token"


class TokenIssuer:
    """Signs Entra-shaped access tokens with a key of its own; ``trust()`` is what a verifier needs."""

    def __init__(self, issuer: str = ISSUER, lifetime_seconds: int = 3600) -> None:
        self.issuer = issuer
        self.lifetime_seconds = lifetime_seconds
        self.key_id = uuid.uuid4().hex
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

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
    requests: list[TokenRequest] = field(default_factory=list)  # every token handed out, in order

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="identity-endpoint", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{TOKEN_PATH}"

    def environment(self) -> dict[str, str]:
        """The variables that point azure-identity's ManagedIdentityCredential at this endpoint."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


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
