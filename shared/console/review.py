"""The review queue: images in review/ with their predictions, biggest doubt first; labelling moves an
image to training/{tag}/ and every action returns the undo that reverses it.

The queue is read a window at a time (REVIEW_WINDOW names, their result documents in parallel), sorted
by doubt inside the window; the continuation token leads to the next window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.console.areas import Areas, BlobAt, check_name, check_tag, list_page, training_name
from shared.console.http import BadRequest
from shared.console.results import read_documents

REVIEW_WINDOW = 200
UNDO_AREAS = ("review", "training", "discarded")


def doubt(document: dict[str, Any] | None) -> float:
    """1 - top probability (the most doubtful image has the least sure top tag); no document: 1."""
    predictions = (document or {}).get("predictions") or []
    top = predictions[0].get("probability") if predictions and isinstance(predictions[0], dict) else None
    return 1.0 - float(top) if isinstance(top, int | float) else 1.0


def queue(areas: Areas, params: Mapping[str, str]) -> dict[str, Any]:
    names, next_token = list_page(areas.containers["review"], params.get("continuation"), REVIEW_WINDOW)
    documents = read_documents(areas.containers["results"], [f"{n}.json" for n in names])
    items = []
    for name in names:
        document = documents.get(f"{name}.json")
        items.append(
            {
                "name": name,
                "doubt": round(doubt(document), 6),
                "predictions": ((document or {}).get("predictions") or [])[:10],
                "reviewReason": (document or {}).get("reviewReason"),
                "classifiedAt": (document or {}).get("classifiedAt"),
            }
        )
    items.sort(key=lambda item: (-item["doubt"], item["name"]))
    return {"items": items, "continuation": next_token}


def assign(areas: Areas, name: str, tag: str, folders: set[str]) -> dict[str, Any]:
    """review/{name} -> training/{tag}/{file} (collision-safe), removed from review."""
    folder = check_tag(tag, folders)
    source = BlobAt("review", check_name(name))
    target = areas.move(source, "training", training_name(folder, name))
    return {"moved": {"from": source.as_dict(), "to": target.as_dict()}, "undo": _undo_move(source, target)}


def discard(areas: Areas, name: str) -> dict[str, Any]:
    """review/{name} put aside (kept in the pipeline container so that undo can restore it)."""
    source = BlobAt("review", check_name(name))
    target = areas.move(source, "discarded", name)
    return {"moved": {"from": source.as_dict(), "to": target.as_dict()}, "undo": _undo_move(source, target)}


def label_result(areas: Areas, image_name: str, tag: str, folders: set[str]) -> dict[str, Any]:
    """A result's image into training/{tag}/: moved from review/ when it waits there, else copied."""
    folder = check_tag(tag, folders)
    check_name(image_name)
    if areas.exists(BlobAt("review", image_name)):
        return assign(areas, image_name, folder, folders)
    target = areas.copy(BlobAt("images", image_name), "training", training_name(folder, image_name))
    return {"copied": {"from": {"area": "images", "name": image_name}, "to": target.as_dict()},
            "undo": {"kind": "delete", "blob": target.as_dict()}}  # fmt: skip


def _undo_move(source: BlobAt, target: BlobAt) -> dict[str, Any]:
    return {"kind": "move", "from": target.as_dict(), "to": source.as_dict()}


def undo(areas: Areas, action: Any) -> dict[str, Any]:
    """Apply an undo that assign / discard / label_result returned."""
    if not isinstance(action, dict):
        raise BadRequest("BadUndo")
    if action.get("kind") == "delete":
        blob = _blob_at(action.get("blob"), ("training",))
        areas.delete(blob)
        return {"deleted": blob.as_dict()}
    if action.get("kind") == "move":
        source = _blob_at(action.get("from"), UNDO_AREAS)
        target = _blob_at(action.get("to"), UNDO_AREAS)
        moved = areas.move(source, target.area, target.name)
        return {"moved": {"from": source.as_dict(), "to": moved.as_dict()}}
    raise BadRequest("BadUndo")


def _blob_at(value: Any, allowed: tuple[str, ...]) -> BlobAt:
    if (
        not isinstance(value, dict)
        or value.get("area") not in allowed
        or not isinstance(value.get("name"), str)
    ):
        raise BadRequest("BadUndo")
    return BlobAt(value["area"], check_name(value["name"]))
