"""Storage clients for a binding's ``connection`` name, resolved as the host resolves it.

Order: the setting ``<name>`` (a connection string), then ``AzureWebJobs<name>``, then the identity-based
group ``<name>__blobServiceUri`` / ``__queueServiceUri`` / ``__serviceUri`` / ``__accountName`` with
``DefaultAzureCredential`` (or a managed identity when ``__credential=managedidentity``). An empty
connection name means ``AzureWebJobsStorage``. Identity-based connections need Entra ID, which cannot
run locally; they are resolved here but not covered by the tests.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient
from requests import PreparedRequest, Request, Session
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from requests.sessions import merge_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies
from urllib3.util.retry import Retry

from devhost.config import ConfigError

DEFAULT_CONNECTION = "AzureWebJobsStorage"


def http_options(url: str) -> dict[str, Any]:
    """Client options that read the environment's HTTP settings once, for the one host ``url`` names.

    Left to itself, requests looks up the proxies (two walks over all of os.environ), the CA bundle and
    ~/.netrc again on every call: about half of the CPU of a blob download or a receipt write. They are
    read when the client is made and passed on; ~/.netrc is not read (the SDK authenticates itself).
    The client also gets a session of its own that prepares requests with less CPU (LeanSession).
    """
    options: dict[str, Any] = {"use_env_settings": False, "session": lean_session()}
    proxies = {k: v for k, v in get_environ_proxies(url).items() if k != "no"}
    if proxies:
        options["proxies"] = proxies
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        options["connection_verify"] = bundle
    return options


class LeanSession(Session):
    """A requests session that merges its settings into each request without requests' generic merging.

    ``Session.prepare_request`` and ``merge_environment_settings`` merge cookies, headers, params, auth,
    proxies, stream, verify and cert through ``merge_setting``, whose ``to_key_val_list`` checks a
    runtime Protocol on every value: about a tenth of a storage call's CPU. With no session cookies,
    auth or params and the environment not trusted (the SDK clients here), the same merge is done
    directly; in any other case requests' own code runs.
    """

    def _plain(self, request: Request | None = None) -> bool:
        simple = not (self.trust_env or self.cookies or self.auth or self.params)
        return simple and (request is None or not (request.cookies or request.auth))

    def prepare_request(self, request: Request) -> PreparedRequest:
        if not self._plain(request):
            return super().prepare_request(request)
        headers: CaseInsensitiveDict[Any] = CaseInsensitiveDict(self.headers)
        headers.update(request.headers or {})
        for key in [key for key, value in headers.items() if value is None]:
            del headers[key]
        prepared = PreparedRequest()
        prepared.prepare(
            method=str(request.method).upper(), url=request.url, files=request.files, data=request.data,
            json=request.json, headers=headers, params=request.params, auth=None,
            cookies=RequestsCookieJar(), hooks=merge_hooks(request.hooks, self.hooks),
        )  # fmt: skip
        return prepared

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if not self._plain():
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged = {**self.proxies, **(proxies or {})}
        return {
            "proxies": {key: value for key, value in merged.items() if value is not None},
            "stream": self.stream if stream is None else stream,
            "verify": self.verify if verify is None else verify,
            "cert": self.cert if cert is None else cert,
        }


def lean_session() -> LeanSession:
    """A session set up as azure-core's RequestsTransport sets up its own (environment not trusted,
    urllib3 retries off: the SDK's retry policy retries), of the leaner kind above."""
    session = LeanSession()
    session.trust_env = False
    adapter = HTTPAdapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False))
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return session


@dataclass(frozen=True)
class Connection:
    name: str
    connection_string: str | None = None
    service_uri: str | None = None  # __serviceUri: the endpoint of the binding's own service
    blob_service_uri: str | None = None
    queue_service_uri: str | None = None
    credential_kind: str | None = None
    client_id: str | None = None


def _setting(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def resolve_connection(name: str | None) -> Connection:
    name = name or DEFAULT_CONNECTION
    for candidate in (name, f"AzureWebJobs{name}"):
        value = _setting(candidate)
        if value:
            return Connection(name=name, connection_string=value)
    account = _setting(f"{name}__accountName")
    conn = Connection(
        name=name,
        service_uri=_setting(f"{name}__serviceUri"),
        blob_service_uri=_setting(f"{name}__blobServiceUri")
        or (f"https://{account}.blob.core.windows.net" if account else None),
        queue_service_uri=_setting(f"{name}__queueServiceUri")
        or (f"https://{account}.queue.core.windows.net" if account else None),
        credential_kind=_setting(f"{name}__credential"),
        client_id=_setting(f"{name}__clientId"),
    )
    if conn.service_uri or conn.blob_service_uri or conn.queue_service_uri:
        return conn
    raise ConfigError(
        f"connection '{name}' is not defined: set {name} (a connection string, e.g. "
        f"UseDevelopmentStorage=true for Azurite) or {name}__blobServiceUri / {name}__queueServiceUri "
        "in local.settings.json Values"
    )


def _credential(connection: Connection) -> Any:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (connection.credential_kind or "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=connection.client_id)
    return DefaultAzureCredential(managed_identity_client_id=connection.client_id)


class Clients:
    """One BlobServiceClient / QueueServiceClient per connection name, shared by every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blob: dict[str, BlobServiceClient] = {}
        self._queue: dict[tuple[str, bool], QueueServiceClient] = {}

    def blob(self, name: str | None) -> BlobServiceClient:
        name = name or DEFAULT_CONNECTION
        with self._lock:
            if name not in self._blob:
                conn = resolve_connection(name)
                uri = conn.blob_service_uri or conn.service_uri
                if conn.connection_string:
                    url = BlobServiceClient.from_connection_string(conn.connection_string).url
                    self._blob[name] = BlobServiceClient.from_connection_string(
                        conn.connection_string, **http_options(url)
                    )
                elif uri:
                    self._blob[name] = BlobServiceClient(
                        uri, credential=_credential(conn), **http_options(uri)
                    )
                else:
                    raise ConfigError(f"connection '{name}' has no blob endpoint: set {name}__blobServiceUri")
            return self._blob[name]

    def queue(self, name: str | None, *, for_blob_trigger: bool = False) -> QueueServiceClient:
        """The queue service of a connection.

        A blob trigger whose identity connection has no ``__queueServiceUri`` (only ``__serviceUri``, a blob
        endpoint) uses AzureWebJobsStorage's queues, as the host does; ``for_blob_trigger`` applies that rule.
        """
        name = name or DEFAULT_CONNECTION
        key = (name, for_blob_trigger)
        with self._lock:
            if key in self._queue:
                return self._queue[key]
            conn = resolve_connection(name)
            uri = conn.queue_service_uri or (None if for_blob_trigger else conn.service_uri)
            client: QueueServiceClient | None = None
            if conn.connection_string:
                url = QueueServiceClient.from_connection_string(conn.connection_string).url
                client = QueueServiceClient.from_connection_string(
                    conn.connection_string, **http_options(url)
                )
            elif uri:
                client = QueueServiceClient(uri, credential=_credential(conn), **http_options(uri))
            elif not (for_blob_trigger and name != DEFAULT_CONNECTION):
                raise ConfigError(f"connection '{name}' has no queue endpoint: set {name}__queueServiceUri")
            if client is not None:
                self._queue[key] = client
                return client
        return self.queue(DEFAULT_CONNECTION)
