"""The sync manifest, pipeline/sync/manifest.json: each training blob -> the image it became.

Every write is conditional on the ETag the manifest was read with. When another writer got there
first, the manifest is read again and this writer's own changes (per blob entry, and per top-level
field) are applied onto the newer version, then written again: two workers never lose each other's
updates, and no update is applied twice. The retries are bounded.

The manifest is read through its shape (``problem``). One that is not JSON or not shaped as written here
is never a cycle that fails for good: it is copied aside (``sync/manifest.unreadable-{time}.json``, kept
for inspection), replaced by an empty one marked ``rebuilding``, and the mirror rebuilds it from the
container and the project (an upload the service answers as a duplicate of an image that carries
exactly the blob's tag is the pipeline's again). ``rebuilt`` says so for the run record's warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.errors import TransientError
from shared.mirror.plan import Entry
from shared.storage import ensure_container, write_json

log = logging.getLogger(__name__)
MANIFEST = "sync/manifest.json"
SCHEMA_VERSION = 2
SAVE_ATTEMPTS = 5
REBUILDING = "rebuilding"  # top-level field while the mirror rebuilds a manifest that was unreadable
_ENTRY_FIELDS = {
    "etag": (str, type(None)),
    "hash": (str, type(None)),
    "imageId": (str, type(None)),
    "tag": (str, type(None)),
    "status": (str, type(None)),
    "owned": (bool, type(None)),
}


def _empty(project_id: str | None) -> dict[str, Any]:
    return {"schemaVersion": SCHEMA_VERSION, "projectId": project_id, "needsTraining": False, "images": {}}


def problem(data: Any) -> str | None:
    """What is wrong with the shape of a parsed manifest (a short text for the run record), or None."""
    if not isinstance(data, dict):
        return "it is not a JSON object"
    if not isinstance(data.get("projectId"), str | None):
        return "its projectId is not text"
    if not isinstance(data.get("needsTraining", False), bool):
        return "its needsTraining is not true or false"
    images = data.get("images", {})
    if not isinstance(images, dict):
        return "its images are not an object"
    for value in images.values():
        if not isinstance(value, dict) or not all(
            isinstance(value.get(key), kinds) for key, kinds in _ENTRY_FIELDS.items()
        ):
            return "an entry of its images is not shaped as the sync writes it"
        tag_ids = value.get("tagIds", [])
        if not isinstance(tag_ids, list | None) or not all(isinstance(t, str) for t in tag_ids or []):
            return "an entry of its images has tagIds that are not a list of ids"
    return None


class Manifest:
    def __init__(self, container: ContainerClient, *, repair: bool = True) -> None:
        """``repair=False`` only reads: an unreadable manifest is then taken as empty and left in place."""
        self.container = container
        self.repair = repair
        self.rebuilt: tuple[str, str] | None = None  # (why, kept as) when this reader set one aside
        self._load()

    def _load(self) -> None:
        data, etag, why = self._read()
        if why is not None and self.repair:
            self.rebuilt = (why, self._set_aside(etag))
        self.data: dict[str, Any] = data if why is None and data is not None else _empty(None)
        self.data.setdefault("images", {})
        self.data.setdefault("needsTraining", False)
        self.data["schemaVersion"] = SCHEMA_VERSION  # entries of version 1 are read as they are
        if self.rebuilt is not None:
            self.data[REBUILDING] = True
        self.etag = etag
        self._base = json.loads(json.dumps(self.data))  # what was read: the other side of a merge

    def _read(self) -> tuple[Any, str | None, str | None]:
        """(parsed data, ETag, what is wrong with it); (None, None, None) when there is no manifest."""
        try:
            downloader = self.container.download_blob(MANIFEST)
        except ResourceNotFoundError:
            return None, None, None
        raw, etag = downloader.readall(), downloader.properties.etag
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None, etag, "it is not JSON"
        return data, etag, problem(data)

    def _set_aside(self, etag: str | None) -> str:
        """Copy the unreadable version (that ETag) aside for inspection; the rebuilt one replaces it."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        kept = MANIFEST.replace(".json", f".unreadable-{stamp}.json")
        source = self.container.get_blob_client(MANIFEST)
        raw = source.download_blob(etag=etag, match_condition=MatchConditions.IfNotModified).readall()
        self.container.upload_blob(kept, raw, overwrite=False)
        log.warning("the sync manifest is unreadable: kept as %s and rebuilt", kept)
        return kept

    @property
    def rebuilding(self) -> bool:
        """The manifest is being rebuilt (after an unreadable one): duplicates may be recovered as owned."""
        return bool(self.data.get(REBUILDING))

    def for_project(self, project_id: str) -> None:
        """A manifest made for another project says nothing about this one: start it afresh."""
        if self.data.get("projectId") != project_id:
            rebuilding = self.rebuilding
            self.data = _empty(project_id)
            if rebuilding:
                self.data[REBUILDING] = True

    @property
    def images(self) -> dict[str, dict[str, Any]]:
        return self.data["images"]

    def entries(self) -> dict[str, Entry]:
        return {name: Entry.from_json(value) for name, value in self.images.items()}

    def entry(self, name: str) -> Entry | None:
        value = self.images.get(name)
        return Entry.from_json(value) if value is not None else None

    def put(self, name: str, entry: Entry | None) -> None:
        if entry is None:
            self.images.pop(name, None)
        else:
            self.images[name] = entry.to_json()

    def put_all(self, writes: Iterable[tuple[str, Entry | None]]) -> None:
        for name, entry in writes:
            self.put(name, entry)

    def record_imported(
        self, name: str, etag: str, content_hash: str, image_id: str, tag: str, tag_id: str
    ) -> None:
        """A blob copied out of the project: its image is already there, and the pipeline owns it from now."""
        self.put(name, Entry(etag, content_hash, image_id, tag, (tag_id,), "Imported", owned=True))

    def save(self) -> None:
        ensure_container(self.container)
        for _ in range(SAVE_ATTEMPTS):
            try:
                self.etag = write_json(self.container, MANIFEST, self.data, if_match=self.etag)
                self._base = json.loads(json.dumps(self.data))
                return
            except (ResourceModifiedError, ResourceExistsError):
                log.info("sync manifest changed meanwhile: merging and writing again")
                self._merge_onto_latest()
        raise TransientError("ManifestBusy")

    def _merge_onto_latest(self) -> None:
        ours, base = self.data, self._base
        self._load()
        latest = self.data
        if ours.get("projectId") != latest.get("projectId") and ours.get("projectId") != base.get(
            "projectId"
        ):
            self.data = ours  # this writer started the manifest afresh for another project: ours stands
            return
        for key, value in ours.items():
            if key != "images" and value != base.get(key):
                latest[key] = value
        theirs = latest["images"]
        for name in set(ours["images"]) | set(base.get("images", {})):
            mine = ours["images"].get(name)
            if mine != base.get("images", {}).get(name):
                if mine is None:
                    theirs.pop(name, None)
                else:
                    theirs[name] = mine
