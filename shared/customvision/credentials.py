"""How the Custom Vision SDK clients sign in: the resource's keys, or Entra ID tokens (CUSTOMVISION_AUTH).

SDK 3.1.1 takes msrest credentials only, not an azure-identity credential. msrest calls
``signed_session(session)`` before every request; ``TokenCredentials`` sets ``Authorization: Bearer`` there
from an azure-identity credential, and nothing else: no Training-Key / Prediction-Key header (the SDK adds
none of its own; ``ApiKeyCredentials`` is what adds them in key mode).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests
from azure.core.credentials import AccessToken, TokenCredential
from msrest.authentication import ApiKeyCredentials, Authentication

from shared.settings.definitions import Settings

# Custom Vision (like every Cognitive Services account) takes Entra tokens for this audience.
SCOPE = "https://cognitiveservices.azure.com/.default"
# A token with less life than this left is replaced before a call (azure-core's bearer policy uses 300 s
# as well): a call that waits for its turn or retries must not arrive with a token that has just expired.
REFRESH_MARGIN_SECONDS = 300


class TokenCredentials(Authentication):
    """msrest credentials that send ``Authorization: Bearer <token>`` from an azure-identity credential.

    The token is kept and reused until it is within ``REFRESH_MARGIN_SECONDS`` of its expiry, then a new
    one is asked for (azure-identity answers from its cache or from the identity endpoint), so a client
    that lives as long as the app never sends an expired token. Thread-safe: the clients are shared.
    """

    def __init__(
        self, credential: TokenCredential, scope: str = SCOPE, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self._credential = credential
        self._scope = scope
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """The token to send now: the one in hand while it has life left, else a new one."""
        with self._lock:
            token = self._token
            if token is None or token.expires_on - self._clock() <= REFRESH_MARGIN_SECONDS:
                token = self._token = self._credential.get_token(self._scope)
            return token.token

    def signed_session(self, session: requests.Session | None = None) -> requests.Session:
        session = super().signed_session(session)
        session.headers["Authorization"] = f"Bearer {self.token()}"
        return session


def identity_credential(settings: Settings) -> TokenCredential:
    """DefaultAzureCredential: in Azure the app's managed identity (AZURE_CLIENT_ID names the user-assigned
    one); locally whatever the developer signed in with (az login, environment variables)."""
    from azure.identity import DefaultAzureCredential  # imported on use: key mode's cold start skips it

    return DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)


def sign_in(settings: Settings) -> tuple[Authentication, Authentication]:
    """The (training, prediction) clients' credentials for CUSTOMVISION_AUTH. In identity mode both share
    one ``TokenCredentials``: the same audience, so one token serves both resources."""
    if settings.customvision_auth == "identity":
        tokens = TokenCredentials(identity_credential(settings))
        return tokens, tokens
    return (
        ApiKeyCredentials(in_headers={"Training-key": settings.customvision_training_key}),
        ApiKeyCredentials(in_headers={"Prediction-key": settings.customvision_prediction_key}),
    )
