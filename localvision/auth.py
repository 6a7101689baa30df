"""Who may call the training and prediction APIs: the surface's key, or a bearer token from a trusted issuer.

Custom Vision takes a resource key (``Training-Key`` / ``Prediction-Key``) or an Entra ID token
(``Authorization: Bearer``) for the audience ``https://cognitiveservices.azure.com``. localvision cannot
trust Entra ID itself (it runs offline); it trusts one issuer named in a file (``--trust-token-issuer``):
the issuer, the audience and the issuer's public keys as a JWKS. A token is checked with PyJWT: signature
(RS256 with a key of that JWKS), audience, issuer, expiry and not-before.

A request that carries a key header is judged by the key alone (an empty or wrong key is refused even
beside a good token); one without is judged by its bearer token when an issuer is trusted.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jwt

from localvision.wire.replies import ACCESS_DENIED

log = logging.getLogger("localvision.auth")

AUDIENCE = "https://cognitiveservices.azure.com"
ALGORITHMS = ["RS256"]  # what Entra ID signs access tokens with
LEEWAY_SECONDS = 60  # clock skew allowed on exp / nbf, as token validators commonly allow
# The reply to a refused token: the Cognitive Services front door's wording, in the key error's shape.
TOKEN_REFUSED = {
    "error": {
        "code": "401",
        "message": f"Unauthorized. Access token is missing, invalid, audience is incorrect ({AUDIENCE}), "
        "or have expired.",
    }
}


class TrustFileError(ValueError):
    """The trust file cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens localvision accepts: ``iss``, expected ``aud`` and its signing keys."""

    issuer: str
    audience: str
    keys: jwt.PyJWKSet

    @classmethod
    def load(cls, path: Path) -> TrustedIssuer:
        """Read ``{"issuer": ..., "audience": ... (optional), "keys": [JWK, ...]}``."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrustFileError(f"cannot read the token issuer file {path}: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("issuer"), str):
            raise TrustFileError(f"{path} must be a JSON object with 'issuer' and 'keys' (a JWKS)")
        try:
            keys = jwt.PyJWKSet.from_dict(document)
        except jwt.PyJWTError as exc:
            raise TrustFileError(f"{path} holds no usable public key in 'keys': {exc}") from exc
        return cls(document["issuer"], str(document.get("audience") or AUDIENCE), keys)

    def claims(self, token: str) -> dict[str, object]:
        """The token's claims once its signature, audience, issuer and lifetime check out; else
        ``jwt.PyJWTError`` saying which check failed."""
        kid = jwt.get_unverified_header(token).get("kid")
        matching = [key for key in self.keys.keys if kid is None or key.key_id == kid]
        if not matching:
            raise jwt.InvalidTokenError(f"no trusted key has kid {kid!r}")
        return jwt.decode(
            token,
            matching[0],
            algorithms=ALGORITHMS,
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )


class Gate:
    """Decides whether a training or prediction call may go ahead; ``refusal`` is None when it may."""

    def __init__(self, keys: Mapping[str, str], issuer: TrustedIssuer | None = None) -> None:
        self.keys = dict(keys)
        self.issuer = issuer

    def refusal(self, surface: str, headers: Mapping[str, str]) -> dict[str, object] | None:
        """None to let the call through, else the 401 body to answer with (ACCESS_DENIED for a key,
        TOKEN_REFUSED for a token)."""
        key = headers.get(f"{surface}-key")
        authorization = headers.get("authorization", "")
        if key is None and self.issuer is not None and authorization[:7].lower() == "bearer ":
            return self._token_refusal(surface, authorization[7:].strip())
        if hmac.compare_digest((key or "").encode(), self.keys[surface].encode()):
            log.debug("%s call signed with the key", surface)
            return None
        return ACCESS_DENIED

    def _token_refusal(self, surface: str, token: str) -> dict[str, object] | None:
        assert self.issuer is not None
        try:
            claims = self.issuer.claims(token)
        except jwt.PyJWTError as exc:
            log.info("%s call refused: bearer token not accepted (%s)", surface, exc)
            return TOKEN_REFUSED
        log.debug("%s call signed with a bearer token (appid %s)", surface, claims.get("appid", "-"))
        return None
