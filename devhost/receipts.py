"""Blob receipts, kept like the host's in ``azure-webjobs-hosts`` of AzureWebJobsStorage.

A receipt ``blobreceipts/{hostId}/{functionId}/{etag}/{container}/{blob}`` says the function has run for
that blob version. A complete receipt (no ``Incomplete`` metadata) means done (succeeded or poisoned); an
incomplete one records the failed attempts so far. Receipts are loaded once per function and then kept in
memory, so a poll costs one listing of the watched container and set look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from devhost import blobio, tracing

HOSTS_CONTAINER = "azure-webjobs-hosts"

BlobKey = tuple[str, str, str]  # (container, blob name, etag)


@dataclass
class FunctionReceipts:
    done: set[BlobKey] = field(default_factory=set)
    attempts: dict[BlobKey, int] = field(default_factory=dict)


def _etag_segment(etag: str) -> str:
    return etag.strip('"')


class ReceiptStore:
    def __init__(self, service: BlobServiceClient, host_id: str) -> None:
        self.container = service.get_container_client(HOSTS_CONTAINER)
        self.host_id = host_id

    def _prefix(self, function_id: str) -> str:
        return f"blobreceipts/{self.host_id}/{function_id}/"

    def _name(self, function_id: str, key: BlobKey) -> str:
        container, blob, etag = key
        return f"{self._prefix(function_id)}{_etag_segment(etag)}/{container}/{blob}"

    def load(self, function_id: str) -> FunctionReceipts:
        """All receipts of one function, read in one listing."""
        receipts = FunctionReceipts()
        prefix = self._prefix(function_id)
        try:
            for item in self.container.list_blobs(name_starts_with=prefix, include=["metadata"]):
                etag, container, blob = item.name[len(prefix) :].split("/", 2)
                key = (container, blob, f'"{etag}"')
                metadata = item.metadata or {}
                if metadata.get("Incomplete", "").lower() == "true":
                    receipts.attempts[key] = int(metadata.get("Attempts", "0"))
                else:
                    receipts.done.add(key)
        except ResourceNotFoundError:
            pass
        return receipts

    @tracing.step("receipt")
    def write(self, function_id: str, key: BlobKey, *, attempts: int, complete: bool, outcome: str) -> None:
        metadata = {"Attempts": str(attempts), "Outcome": outcome}
        if not complete:
            metadata["Incomplete"] = "true"
        blob = self.container.get_blob_client(self._name(function_id, key))
        blobio.ensure_container(self.container)
        blobio.put_empty(blob, metadata)
