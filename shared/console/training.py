"""The training set as the console shows it: images per tag folder; move to another tag; delete.

The container is the source of truth: a move or a delete here reaches the model at the next retrain
(the sync retags moved images and deletes removed ones).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.console.areas import Areas, BlobAt, check_name, check_tag, list_page, training_name
from shared.console.http import BadRequest
from shared.mirror.summary import read_summary

log = logging.getLogger(__name__)

SAMPLES_PER_TAG = 24
TAG_PAGE = 100
# The overview never lists a large container (Azurite answers any listing of 100,000 blobs in about a
# second): when the last sync listed more than LIVE_PAGE blobs, the counts and samples are those of its
# listing, which the mirror writes (shared.mirror.summary) with its time; else one page of LIVE_PAGE
# names answers the container live and exact. A tag page lists a folder in full.
LIVE_PAGE = 250


def overview(areas: Areas) -> dict[str, Any]:
    """Counts per tag folder and the first few names of each: as of the last sync (``countsAsOf``) for a
    large container, else live; past one page with no sync yet, each count is a lower bound (``more``)."""
    summary = read_summary(areas.containers["discarded"])
    if summary is not None and summary["total"] > LIVE_PAGE:
        return _answer(_synced(summary), summary["outsideFolders"], summary["listedAt"])
    pages = areas.containers["training"].list_blobs(results_per_page=LIVE_PAGE).by_page()
    try:
        names = [blob.name for blob in next(pages, [])]
    except ResourceNotFoundError:  # no training container yet
        names = []
    outside = sum(1 for name in names if _outside(name))
    if pages.continuation_token is None:
        return _answer(_count(names, more=False), outside, None)
    if summary is None:
        return _answer(_count(names, more=True), outside, None)
    folders = _synced(summary)
    for tag, live in _count(names, more=True).items():
        folders.setdefault(tag, live)  # a folder made since the last sync
    return _answer(folders, summary["outsideFolders"], summary["listedAt"])


def _synced(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {"tag": name, "count": value["count"], "more": False, "samples": value["samples"]}
        for name, value in summary["folders"].items()
    }


def _outside(name: str) -> bool:
    folder, _, rest = name.partition("/")
    return not folder or not rest


def _count(names: list[str], *, more: bool) -> dict[str, dict[str, Any]]:
    folders: dict[str, dict[str, Any]] = {}
    for name in names:
        if _outside(name):
            continue
        tag = name.partition("/")[0]
        folder = folders.setdefault(tag, {"tag": tag, "count": 0, "more": more, "samples": []})
        folder["count"] += 1
        if len(folder["samples"]) < SAMPLES_PER_TAG:
            folder["samples"].append(name)
    return folders


def _answer(folders: dict[str, dict[str, Any]], outside: int, as_of: str | None) -> dict[str, Any]:
    tags = sorted(folders.values(), key=lambda f: f["tag"].lower())
    total = sum(f["count"] for f in tags)
    return {"tags": tags, "total": total, "outsideFolders": outside, "countsAsOf": as_of}


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
