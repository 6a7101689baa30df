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
from requests.utils import get_environ_proxies

from devhost.config import ConfigError

DEFAULT_CONNECTION = "AzureWebJobsStorage"


def http_options(url: str) -> dict[str, Any]:
    """Client options that read the environment's HTTP settings once, for the one host ``url`` names.

    Left to itself, requests looks up the proxies (two walks over all of os.environ), the CA bundle and
    ~/.netrc again on every call: about half of the CPU of a blob download or a receipt write. They are
    read when the client is made and passed on; ~/.netrc is not read (the SDK authenticates itself).
    The client also gets a session of its own that prepares requests with less CPU (LeanSession).
    """
    options: dict[str, Any] = {"use_env_settings": False}
    proxies = {k: v for k, v in get_environ_proxies(url).items() if k != "no"}
    if proxies:
        options["proxies"] = proxies
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        options["connection_verify"] = bundle
    return options


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
