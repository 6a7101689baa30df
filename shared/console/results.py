"""The results gallery: pages of result documents, filtered, and one document in full.

A page is PAGE_SIZE document names and only those documents are read, in parallel: with filters a page
may show fewer than it read, and the continuation token leads on. Up to NEWEST_LIMIT documents (one
listing call of names and dates) the pages are newest first (the token is the position); beyond, Blob
Storage cannot list by date without listing everything, so the pages follow the names (one listing call
of PAGE_SIZE names, the service's token), and the reply says which order it used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.console.areas import check_name, list_page
from shared.console.http import BadRequest, NotFound

log = logging.getLogger(__name__)
PAGE_SIZE = 50
NEWEST_LIMIT = 250  # up to this many documents the gallery is newest first; beyond, in name order
NEWEST = "newest:"
READERS = 16
STATUSES = ("ok", "error")
REVIEW_REASONS = ("low_confidence", "unknown")


def read_documents(container: ContainerClient, names: list[str]) -> dict[str, dict[str, Any] | None]:
    """name -> document (None when gone or not JSON), read in parallel."""

    def read(name: str) -> dict[str, Any] | None:
        try:
            data = json.loads(container.download_blob(name).readall())
        except ResourceNotFoundError:
            return None
        except ValueError:
            log.warning("results/%s is not JSON: skipped", name)
            return None
        return data if isinstance(data, dict) else None

    if not names:
        return {}
    with ThreadPoolExecutor(min(READERS, len(names))) as pool:
        return dict(zip(names, pool.map(read, names), strict=True))


def summary(image_name: str, document: dict[str, Any]) -> dict[str, Any]:
    """What a gallery tile shows."""
    predictions = document.get("predictions") or []
    top = predictions[0] if predictions and isinstance(predictions[0], dict) else {}
    error = document.get("error") if isinstance(document.get("error"), dict) else {}
    return {
        "name": image_name,
        "status": str(document.get("status", "")),
        "topTag": top.get("tagName"),
        "probability": top.get("probability"),
        "tags": document.get("tags") or [],
        "errorCode": error.get("code"),
        "errorMessage": error.get("message"),
        "classifiedAt": document.get("classifiedAt"),
        "reviewReason": document.get("reviewReason"),
    }


class Filters:
    def __init__(self, params: Mapping[str, str]) -> None:
        self.status = params.get("status", "")
        if self.status and self.status not in STATUSES:
            raise BadRequest("BadParameter", name="status", why=f"use one of {', '.join(STATUSES)}")
        self.tag = params.get("tag", "").strip().lower()
        self.reason = params.get("reason", "")
        if self.reason and self.reason not in REVIEW_REASONS:
            raise BadRequest("BadParameter", name="reason", why=f"use one of {', '.join(REVIEW_REASONS)}")
        self.low = probability(params, "min", 0.0)
        self.high = probability(params, "max", 1.0)

    def match(self, item: dict[str, Any]) -> bool:
        if self.status and item["status"] != self.status:
            return False
        if self.tag and (item["topTag"] or "").lower() != self.tag:
            return False
        if self.reason and item["reviewReason"] != self.reason:
            return False
        if self.low > 0.0 or self.high < 1.0:
            p = item["probability"]
            if not isinstance(p, int | float):
                return False
            # the band is [min, max), except that max 1 includes 1
            return self.low <= p and (p < self.high or self.high >= 1.0)
        return True


def probability(params: Mapping[str, str], name: str, default: float) -> float:
    raw = params.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise BadRequest("BadParameter", name=name, why="a probability between 0 and 1")
    return value


def _newest_first(results: ContainerClient, start: int) -> tuple[list[str], str | None] | None:
    """A page of names, the most recently written first, when the container holds at most NEWEST_LIMIT
    documents (one listing call, names and dates); None when it holds more."""
    try:
        pager = results.list_blobs(results_per_page=NEWEST_LIMIT).by_page()
        listed = [(b.last_modified, b.name) for b in next(pager, [])]
    except ResourceNotFoundError:
        return [], None
    if pager.continuation_token:
        return None
    listed.sort(reverse=True)
    names = [name for _, name in listed[start : start + PAGE_SIZE]]
    return names, f"{NEWEST}{start + PAGE_SIZE}" if start + PAGE_SIZE < len(listed) else None


def _names(results: ContainerClient, token: str | None) -> tuple[list[str], str | None, str]:
    """The page's document names, its continuation token and its order ("newest" or "name")."""
    if not token or token.startswith(NEWEST):
        start = int(token[len(NEWEST) :]) if token and token[len(NEWEST) :].isdigit() else 0
        newest = _newest_first(results, start)
        if newest is not None:
            return *newest, "newest"
        if token:  # the container grew past the limit meanwhile: start again in name order
            raise BadRequest("BadParameter", name="continuation", why="start again from the first page")
        token = None
    names, next_token = list_page(results, token, PAGE_SIZE)
    return names, next_token, "name"


def page(results: ContainerClient, params: Mapping[str, str]) -> dict[str, Any]:
    filters = Filters(params)
    names, next_token, order = _names(results, params.get("continuation"))
    documents = read_documents(results, names)
    items = []
    for name in names:
        document = documents.get(name)
        if document is None:
            continue
        item = summary(name.removesuffix(".json"), document)
        if filters.match(item):
            items.append(item)
    return {"items": items, "read": len(names), "continuation": next_token, "order": order}


def detail(results: ContainerClient, image_name: str) -> dict[str, Any]:
    check_name(image_name)
    document = read_documents(results, [f"{image_name}.json"]).get(f"{image_name}.json")
    if document is None:
        raise NotFound("BlobNotFound", area="results", name=f"{image_name}.json")
    return document
