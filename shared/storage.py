"""Blob and queue clients for the pipeline's storage account, and small JSON-blob helpers.

The account is reached by connection string (Azurite: ``UseDevelopmentStorage=true``) or by identity
(``PIPELINE_STORAGE__blobServiceUri`` / ``__queueServiceUri``, optionally ``__clientId`` for a
user-assigned managed identity), the same setting group the Functions host reads for the triggers.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy
from requests.utils import get_environ_proxies

from shared.settings.definitions import Settings

# Storage calls are short; a stuck connection must not hold an invocation for the SDK's default minutes.
_TIMEOUTS = {"connection_timeout": 10, "read_timeout": 60}


def http_options(url: str) -> dict[str, Any]:
    """SDK client options that read the environment's HTTP settings once, for the one host ``url`` names.

    Left to itself, requests looks up the proxies (HTTP(S)_PROXY and NO_PROXY: two walks over all of
    os.environ), the CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) and ~/.netrc again on every call:
    about half of a storage call's CPU in the pipeline. Here they are read when the client is made and
    passed on; ~/.netrc is not read (an entry there would replace the SDK's own Authorization header).
    """
    options: dict[str, Any] = {"use_env_settings": False}
    proxies = {k: v for k, v in get_environ_proxies(url).items() if k != "no"}
    if proxies:
        options["proxies"] = proxies
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        options["connection_verify"] = bundle
    return options


def _credential(identity: dict[str, str]) -> Any:
    """The identity for an identity-based connection (imported lazily: connection strings need none)."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    client_id = identity.get("clientId")
    if identity.get("credential", "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    return DefaultAzureCredential(managed_identity_client_id=client_id)


@dataclass
class Storage:
    """The pipeline's blob and queue service clients."""

    blobs: BlobServiceClient
    queues: QueueServiceClient

    def container(self, name: str) -> ContainerClient:
        return self.blobs.get_container_client(name)

    def queue(self, name: str) -> QueueClient:
        """A queue client whose messages are base64 text, the encoding the queue trigger expects."""
        return self.queues.get_queue_client(name, message_encode_policy=TextBase64EncodePolicy())


def connect(settings: Settings) -> Storage:
    if settings.storage_connection_string:
        conn = settings.storage_connection_string
        blobs = BlobServiceClient.from_connection_string(conn, **_TIMEOUTS)
        queues = QueueServiceClient.from_connection_string(conn, **_TIMEOUTS)
        return Storage(
            BlobServiceClient.from_connection_string(conn, **_TIMEOUTS, **http_options(blobs.url)),
            QueueServiceClient.from_connection_string(conn, **_TIMEOUTS, **http_options(queues.url)),
        )
    identity = settings.identity
    credential = _credential(identity)
    blob_uri, queue_uri = identity["blobServiceUri"], identity["queueServiceUri"]
    return Storage(
        BlobServiceClient(blob_uri, credential=credential, **_TIMEOUTS, **http_options(blob_uri)),
        QueueServiceClient(queue_uri, credential=credential, **_TIMEOUTS, **http_options(queue_uri)),
    )


_ensured: set[str] = set()  # URLs of containers and queues known to exist


def ensure_container(container: ContainerClient) -> None:
    """Create the container once per process if it does not exist."""
    _ensure(container.url, container.create_container)


def ensure_queue(queue: QueueClient) -> None:
    """Create the queue once per process if it does not exist."""
    _ensure(queue.url, queue.create_queue)


def _ensure(url: str, create: Callable[[], object]) -> None:
    if url in _ensured:
        return
    with contextlib.suppress(ResourceExistsError):
        create()
    _ensured.add(url)


@dataclass(frozen=True)
class JsonBlob:
    """A JSON document read from a blob, with the ETag to make the next write conditional on it."""

    data: dict[str, Any]
    etag: str


def read_json(container: ContainerClient, name: str) -> JsonBlob | None:
    try:
        downloader = container.download_blob(name)
    except ResourceNotFoundError:
        return None
    return JsonBlob(json.loads(downloader.readall()), downloader.properties.etag)


def write_json(
    container: ContainerClient, name: str, data: dict[str, Any], *, if_match: str | None = None
) -> str:
    """Write ``data``; ``if_match=None`` creates only (fails if it exists), else replaces only that version.

    Raises ResourceExistsError / ResourceModifiedError when another writer got there first.
    Returns the new ETag.
    """
    body = json.dumps(data, indent=2, ensure_ascii=False).encode()
    content = ContentSettings(content_type="application/json")
    blob = container.get_blob_client(name)
    if if_match is None:
        result = blob.upload_blob(body, overwrite=False, content_settings=content)
    else:
        result = blob.upload_blob(
            body, overwrite=True, content_settings=content, etag=if_match,
            match_condition=MatchConditions.IfNotModified,
        )  # fmt: skip
    return result["etag"]
