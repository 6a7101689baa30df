"""The training container as the last sync listed it: blobs per top folder, for the console's overview.

Written by the mirror (``sync/summary.json`` in the pipeline container) at the end of each completed sync
from the listing it made anyway, so the console can show counts of a large container with one small read
instead of listing it (``read_summary``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from shared.mirror.plan import Listed
from shared.storage import ensure_container

log = logging.getLogger(__name__)
SUMMARY = "sync/summary.json"
SAMPLES_PER_FOLDER = 24


def summarise(listing: list[Listed]) -> dict[str, Any]:
    """{listedAt, total, outsideFolders, folders: {folder: {count, samples}}} of one listing."""
    folders: dict[str, dict[str, Any]] = {}
    outside = 0
    for blob in sorted(listing, key=lambda b: b.name):
        folder, _, rest = blob.name.partition("/")
        if not folder or not rest:
            outside += 1
            continue
        entry = folders.setdefault(folder, {"count": 0, "samples": []})
        entry["count"] += 1
        if len(entry["samples"]) < SAMPLES_PER_FOLDER:
            entry["samples"].append(blob.name)
    listed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"listedAt": listed_at, "total": len(listing), "outsideFolders": outside, "folders": folders}


def write_summary(pipeline: ContainerClient, listing: list[Listed]) -> None:
    """Replace the summary (the latest listing wins: two syncs' listings are both true of their time)."""
    ensure_container(pipeline)
    body = json.dumps(summarise(listing), ensure_ascii=False).encode()
    pipeline.upload_blob(SUMMARY, body, overwrite=True, content_settings=ContentSettings("application/json"))


def read_summary(pipeline: ContainerClient) -> dict[str, Any] | None:
    """The last sync's summary, if there is a readable one."""
    try:
        data = json.loads(pipeline.download_blob(SUMMARY).readall())
        folders = {
            str(name): {"count": int(value["count"]), "samples": [str(n) for n in value["samples"]]}
            for name, value in data["folders"].items()
        }
        return {
            "folders": folders,
            "total": int(data["total"]),
            "outsideFolders": int(data["outsideFolders"]),
            "listedAt": str(data["listedAt"]),
        }
    except ResourceNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        log.warning("%s is not a summary the sync writes: ignored", SUMMARY)
        return None
