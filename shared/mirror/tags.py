"""Folder -> tag id, matched like the service matches names: trimmed and case-insensitive.

The project's tags are read once per sync, and only when something needs a tag. A missing tag is
created (the Negative folder's as type ``Negative``). Creation is tried at most twice: when the service
says the name is taken (someone created it meanwhile), the tags are read again once; a name that still
cannot be resolved fails only the images of that folder. No recursion, no unbounded loop. A tag this
sync created whose images the service then all refused is deleted again (``discard``): a folder of
non-images leaves no empty tag behind.
"""

from __future__ import annotations

import logging

from shared.customvision.clients import CustomVision
from shared.errors import PermanentError
from shared.mirror.plan import INVALID_TAG_NAME, Folder, tag_key

log = logging.getLogger(__name__)
TAKEN = frozenset({"BadRequestTagNameNotUnique", "BadRequestMultipleNegativeTag"})
REFUSED_NAME = frozenset({"BadRequestTagName", "BadRequestTagNameInvalid"})
TAG_LIMIT = "BadRequestExceedTagPerProjectLimit"


class TagResolver:
    def __init__(self, cv: CustomVision, project_id: str) -> None:
        self.cv = cv
        self.project_id = project_id
        self.created: list[str] = []
        self.fresh: set[str] = set()  # ids of the tags this sync created
        self._ids: dict[str, str] | None = None  # tag key -> id
        self._negative: str | None = None
        self._failed: dict[str, str] = {}  # tag key -> failure code

    def _read(self) -> None:
        tags = self.cv.training(lambda t: t.get_tags(self.project_id), "list tags")
        self._ids = {tag_key(t.name): t.id for t in tags}
        self._negative = next((t.id for t in tags if t.type == "Negative"), None)

    def _known(self, folder: Folder) -> str | None:
        assert self._ids is not None
        if folder.negative and self._negative:
            return self._negative
        return self._ids.get(folder.key)

    def id_of(self, folder: Folder) -> str | None:
        """The tag id, or None when the folder's images must fail (see ``failure``)."""
        if folder.key in self._failed:
            return None
        if self._ids is None:
            self._read()
        for attempt in range(2):
            known = self._known(folder)
            if known:
                return known
            try:
                tag = self.cv.training(
                    lambda t: t.create_tag(
                        self.project_id, folder.name, type="Negative" if folder.negative else None
                    ),
                    f"create tag {folder.name[:40]}",
                )
            except PermanentError as error:
                if error.service_code in TAKEN and attempt == 0:
                    self._read()  # created meanwhile (or differs only in case): look again, once
                    continue
                code = (
                    INVALID_TAG_NAME
                    if error.service_code in REFUSED_NAME
                    else "TagLimitExceeded"
                    if error.service_code == TAG_LIMIT
                    else "TagConflict"
                    if error.service_code in TAKEN
                    else None
                )
                if code is None:
                    raise
                log.warning(
                    "tag for folder %r not created: %s", folder.name[:80], error.service_code or error.code
                )
                self._failed[folder.key] = code
                return None
            self.created.append(tag.name)
            self.fresh.add(tag.id)
            assert self._ids is not None
            self._ids[folder.key] = tag.id
            if folder.negative:
                self._negative = tag.id
            return tag.id
        self._failed[folder.key] = "TagConflict"
        return None

    def discard(self, folder: Folder, tag_id: str) -> None:
        """Delete a tag this sync created and no image took (the next image of its folder creates it)."""
        if self._ids is None or self._ids.get(folder.key) != tag_id:
            return
        self.cv.training(lambda t: t.delete_tag(self.project_id, tag_id), f"delete tag {folder.name[:40]}")
        del self._ids[folder.key]
        if self._negative == tag_id:
            self._negative = None
        self.created = [name for name in self.created if tag_key(name) != folder.key]

    def failure(self, folder: Folder) -> str:
        return self._failed.get(folder.key, "TagConflict")

    def ids_of_key(self, key: str | None) -> tuple[str, ...]:
        """The id of an existing tag by key (for entries written before tag ids were recorded)."""
        if key is None:
            return ()
        if self._ids is None:
            self._read()
        assert self._ids is not None
        found = self._ids.get(key)
        return (found,) if found else ()
