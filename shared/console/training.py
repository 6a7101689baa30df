"""The training set as the console shows it: images per tag folder; move to another tag; delete.

The container is the source of truth: a move or a delete here reaches the model at the next retrain
(the sync retags moved images and deletes removed ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.console.areas import Areas, BlobAt, check_name, check_tag, list_page, training_name
from shared.console.http import BadRequest

SAMPLES_PER_TAG = 24
TAG_PAGE = 100


def overview(areas: Areas) -> dict[str, Any]:
    """Counts per tag folder and the first few image names of each (one listing of names)."""
    folders: dict[str, dict[str, Any]] = {}
    outside = 0
    try:
        for blob in areas.containers["training"].list_blobs():
            tag, _, rest = blob.name.partition("/")
            if not tag or not rest:
                outside += 1
                continue
            folder = folders.setdefault(tag, {"tag": tag, "count": 0, "samples": []})
            folder["count"] += 1
            if len(folder["samples"]) < SAMPLES_PER_TAG:
                folder["samples"].append(blob.name)
    except ResourceNotFoundError:  # no training container yet
        pass
    tags = sorted(folders.values(), key=lambda f: f["tag"].lower())
    return {"tags": tags, "total": sum(f["count"] for f in tags), "outsideFolders": outside}


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
