"""Two iterations image by image: from each one's out-of-fold predictions (GetImagePerformances), the
training images whose most probable tag differs between them. Images in only one of the two are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.console.http import BadRequest
from shared.customvision.clients import CustomVision

PAGE = 256  # the service's largest take


def _top_tags(cv: CustomVision, pid: str, iid: str) -> dict[str, tuple[str, float]]:
    """Image id -> (most probable tag, its probability) in the iteration's out-of-fold evaluation."""
    tops: dict[str, tuple[str, float]] = {}
    skip = 0
    while True:
        page = cv.training(
            lambda t, s=skip: t.get_image_performances(pid, iid, take=PAGE, skip=s), "image performances"
        )
        for entry in page:
            if entry.predictions:
                best = max(entry.predictions, key=lambda p: p.probability)
                tops[entry.id] = (best.tag_name, best.probability)
        if len(page) < PAGE:
            return tops
        skip += PAGE


def changed_images(
    cv: CustomVision,
    check: Callable[[str], tuple[str, Any]],
    names: Callable[[], dict[str, str]],
    a: str,
    b: str,
) -> dict[str, Any]:
    """The images whose predicted tag changed from iteration ``a`` to ``b``; ``check`` finds an iteration
    (project id, SDK Iteration); ``names``: image id -> training blob (for its name and thumbnail)."""
    pid, first = check(a)
    _, second = check(b)
    for iteration in (first, second):
        if iteration.status != "Completed":
            raise BadRequest("IterationNotCompleted", name=iteration.name, status=iteration.status)
    tops_a, tops_b = _top_tags(cv, pid, first.id), _top_tags(cv, pid, second.id)
    blob_names = names()
    changed = [
        {
            "imageId": image_id,
            "name": blob_names.get(image_id),
            "tagA": tops_a[image_id][0],
            "probabilityA": tops_a[image_id][1],
            "tagB": tops_b[image_id][0],
            "probabilityB": tops_b[image_id][1],
        }
        for image_id in sorted(tops_a.keys() & tops_b.keys(), key=lambda i: (blob_names.get(i) or "~", i))
        if tops_a[image_id][0] != tops_b[image_id][0]
    ]
    return {
        "a": {"id": first.id, "name": first.name},
        "b": {"id": second.id, "name": second.name},
        "compared": len(tops_a.keys() & tops_b.keys()),
        "changed": changed,
    }
