"""The review queue: images in review/ with their predictions, biggest doubt first; labelling moves an
image to training/{tag}/ and every action returns the undo that reverses it.

The queue is read a window at a time (REVIEW_WINDOW names, their result documents in parallel), sorted
by doubt inside the window; the continuation token leads to the next window.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.console.areas import Areas, BlobAt, check_name, check_tag, list_page, training_name
from shared.console.catalogue import message_for
from shared.console.http import BadRequest, CatalogueRefusal, Conflict, NotFound
from shared.console.labels import Decision, Labels, content_hash
from shared.console.results import read_documents
from shared.errors import PermanentError
from shared.imaging import TRAINING_MAX_BYTES, normalise

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
    """review/{name} -> training/{tag}/{file} (collision-safe), removed from review; one decision per
    image (shared.console.labels): a later or concurrent label answers what was decided."""
    folder = check_tag(tag, folders)
    source = BlobAt("review", check_name(name))
    try:
        data, etag = areas.read(source)
    except NotFound:
        decided = _labels(areas).find(name)
        if decided is None:
            raise
        return _decided(decided, folder)
    return _label(areas, source, data, etag, folder)


def discard(areas: Areas, name: str) -> dict[str, Any]:
    """review/{name} put aside (kept in the pipeline container so that undo can restore it)."""
    source = BlobAt("review", check_name(name))
    target = areas.move(source, "discarded", name)
    return {"moved": {"from": source.as_dict(), "to": target.as_dict()}, "undo": _undo_move(source, target)}


def label_result(areas: Areas, image_name: str, tag: str, folders: set[str]) -> dict[str, Any]:
    """A result's image into training/{tag}/: moved from review/ when it waits there, else copied from
    images/; one decision per image, as for ``assign``. An image the pipeline refused (not an image, too
    small...) is refused here too, with the same catalogue error: it could never be trained on."""
    folder = check_tag(tag, folders)
    check_name(image_name)
    for area in ("review", "images"):
        source = BlobAt(area, image_name)
        try:
            data, etag = areas.read(source)
        except NotFound:
            continue
        try:
            normalise(data, TRAINING_MAX_BYTES)
        except PermanentError as error:
            raise CatalogueRefusal(error) from None
        return _label(areas, source, data, etag, folder)
    raise NotFound("BlobNotFound", area="images", name=image_name)


def _labels(areas: Areas) -> Labels:
    return Labels(areas.containers["discarded"], areas.containers["training"])


def _label(areas: Areas, source: BlobAt, data: bytes, etag: str, folder: str) -> dict[str, Any]:
    """Claim the decision, then copy into training (and remove from review); the first claim wins."""
    labels = _labels(areas)
    wanted = Decision(source.name, folder, training_name(folder, source.name), content_hash(data))
    claim = labels.claim(wanted)
    if not claim.ours:
        return _decided(claim.decision, folder)
    target: BlobAt | None = None
    try:
        target = areas.create("training", wanted.training, data)
        if source.area == "review":
            areas.delete(source, etag)
        labels.settle(claim, target.name)
    except Exception:
        if target is not None:
            with contextlib.suppress(ResourceNotFoundError):
                areas.containers["training"].delete_blob(target.name)
        labels.release(source.name)
        raise
    if source.area == "review":
        return {
            "moved": {"from": source.as_dict(), "to": target.as_dict()},
            "undo": _undo_move(source, target),
        }
    return {"copied": {"from": source.as_dict(), "to": target.as_dict()},
            "undo": {"kind": "delete", "blob": target.as_dict(), "image": source.name}}  # fmt: skip


def _decided(decision: Decision, folder: str) -> dict[str, Any]:
    """The answer to a label that came second: what the first decided (409 when it chose another tag)."""
    if decision.tag.lower() != folder.lower():
        raise Conflict("LabelledMeanwhile", name=decision.name, tag=decision.tag)
    training = {"area": "training", "name": decision.training}
    message = message_for("AlreadyLabelled", name=decision.name, tag=decision.tag, training=decision.training)
    return {"already": training, "message": message}


def _undo_move(source: BlobAt, target: BlobAt) -> dict[str, Any]:
    return {"kind": "move", "from": target.as_dict(), "to": source.as_dict()}


def undo(areas: Areas, action: Any) -> dict[str, Any]:
    """Apply an undo that assign / discard / label_result returned."""
    if not isinstance(action, dict):
        raise BadRequest("BadUndo")
    if action.get("kind") == "delete":
        blob = _blob_at(action.get("blob"), ("training",))
        areas.delete(blob)
        if isinstance(action.get("image"), str):  # a label undone: the image may be labelled again
            _labels(areas).release(check_name(action["image"]), blob.name)
        return {"deleted": blob.as_dict()}
    if action.get("kind") == "move":
        source = _blob_at(action.get("from"), UNDO_AREAS)
        target = _blob_at(action.get("to"), UNDO_AREAS)
        moved = areas.move(source, target.area, target.name)
        if source.area == "training":
            _labels(areas).release(target.name, source.name)
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
