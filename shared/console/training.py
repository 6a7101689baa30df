"""The training set as the console shows it: images per tag folder; move to another tag; delete.

The container is the source of truth: a move or a delete here reaches the model at the next retrain
(the sync retags moved images and deletes removed ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobPrefix, ContainerClient

from shared.console.areas import Areas, BlobAt, check_name, check_tag, list_page, training_name
from shared.console.http import BadRequest

SAMPLES_PER_TAG = 24
TAG_PAGE = 100
# The overview's listings are bounded, whatever the container holds: one page of top-level folders, then
# one page of names per folder (in parallel). A folder with more names than COUNT_LIMIT shows
# "COUNT_LIMIT+" (``more``); its tag page lists them all, a page at a time.
MAX_FOLDERS = 500
COUNT_LIMIT = 1000
LISTERS = 8


def overview(areas: Areas) -> dict[str, Any]:
    """Counts per tag folder (exact up to COUNT_LIMIT) and the first few image names of each."""
    container = areas.containers["training"]
    try:
        top = container.walk_blobs(delimiter="/", results_per_page=MAX_FOLDERS).by_page()
        first = list(next(top, []))
    except ResourceNotFoundError:  # no training container yet
        return {"tags": [], "total": 0, "outsideFolders": 0, "complete": True}
    tags = [item.name.rstrip("/") for item in first if isinstance(item, BlobPrefix)]
    outside = sum(1 for item in first if not isinstance(item, BlobPrefix))
    with ThreadPoolExecutor(max(1, min(LISTERS, len(tags)))) as pool:
        folders = list(pool.map(lambda tag: _folder(container, tag), tags))
    folders.sort(key=lambda f: f["tag"].lower())
    complete = top.continuation_token is None and not any(f["more"] for f in folders)
    total = sum(f["count"] for f in folders)
    return {"tags": folders, "total": total, "outsideFolders": outside, "complete": complete}


def _folder(container: ContainerClient, tag: str) -> dict[str, Any]:
    pages = container.list_blobs(name_starts_with=f"{tag}/", results_per_page=COUNT_LIMIT).by_page()
    names = [blob.name for blob in next(pages, [])]
    return {
        "tag": tag,
        "count": len(names),
        "more": pages.continuation_token is not None,
        "samples": names[:SAMPLES_PER_TAG],
    }


def tag_page(areas: Areas, params: Mapping[str, str]) -> dict[str, Any]:
    """One page of a tag folder's image names."""
    tag = params.get("tag", "")
    if not tag or "/" in tag:
        raise BadRequest("BadParameter", name="tag", why="a tag folder name")
    check_name(tag)
    names, next_token = list_page(
        areas.containers["training"], params.get("continuation"), TAG_PAGE, f"{tag}/"
    )
    return {"tag": tag, "items": names, "continuation": next_token}


def move(areas: Areas, name: str, tag: str, folders: set[str]) -> dict[str, Any]:
    folder = check_tag(tag, folders)
    source = BlobAt("training", check_name(name))
    if source.name.partition("/")[0] == folder:
        return {"moved": None}
    target = areas.move(source, "training", training_name(folder, name))
    return {"moved": {"from": source.as_dict(), "to": target.as_dict()}}


def delete(areas: Areas, name: str) -> dict[str, Any]:
    blob = BlobAt("training", check_name(name))
    areas.delete(blob)
    return {"deleted": blob.as_dict()}
