"""List (name, ETag) of the blobs in a container, fast enough to poll thousands of blobs many times a minute.

The SDK's ``list_blobs`` turns every entry into a full ``BlobProperties`` object, which costs about three
quarters of a listing (1,500 blobs: ~330 ms against Azurite, ~100 ms without it). This reads the same
List Blobs response as XML and keeps only the two fields the trigger needs, the way the SDK's own
``list_blob_names`` skips deserialising. It goes through the SDK's generated client and pipeline
(authentication, retries) but relies on internals of the pinned azure-storage-blob; if they change, it
falls back to ``list_blobs``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import unquote

from azure.storage.blob import ContainerClient

log = logging.getLogger("devhost.blobs")
PAGE_SIZE = 5000


def _fast(container: ContainerClient, prefix: str | None) -> Iterator[tuple[str, str]]:
    # The same one-off client with a no-op deserializer that ``list_blob_names`` builds.
    from azure.storage.blob._list_blobs_helper import IgnoreListBlobsDeserializer
    from azure.storage.blob._shared.response_handlers import return_raw_deserialized

    client = container._build_generated_client()
    client.container._deserialize = IgnoreListBlobsDeserializer()
    marker = None
    while True:
        _, root = client.container.list_blob_flat_segment(
            prefix=prefix, marker=marker, maxresults=PAGE_SIZE, cls=return_raw_deserialized
        )
        for blob in root.iterfind("Blobs/Blob"):
            node = blob.find("Name")
            name = node.text or ""
            if node.get("Encoded") == "true":
                name = unquote(name)
            yield name, blob.findtext("Properties/Etag") or ""
        marker = root.findtext("NextMarker")
        if not marker:
            return


_use_fast = True


def blob_versions(container: ContainerClient, prefix: str | None = None) -> Iterator[tuple[str, str]]:
    """Yield (blob name, ETag) for each blob under ``prefix``."""
    global _use_fast
    if _use_fast:
        try:
            yield from _fast(container, prefix)
            return
        except (AttributeError, ImportError, TypeError) as exc:
            log.warning("fast blob listing unavailable (%s); using list_blobs", exc)
            _use_fast = False
    for item in container.list_blobs(name_starts_with=prefix):
        yield item.name, item.etag
