"""The sync manifest, pipeline/sync/manifest.json: each training blob -> the image it became.

Every write is conditional on the ETag the manifest was read with. When another writer got there
first, the manifest is read again and this writer's own changes (per blob entry, and per top-level
field) are applied onto the newer version, then written again: two workers never lose each other's
updates, and no update is applied twice. The retries are bounded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.storage.blob import ContainerClient

from shared.errors import TransientError
from shared.mirror.plan import Entry
from shared.storage import ensure_container, read_json, write_json

log = logging.getLogger(__name__)
MANIFEST = "sync/manifest.json"
SCHEMA_VERSION = 2
SAVE_ATTEMPTS = 5


def _empty(project_id: str | None) -> dict[str, Any]:
    return {"schemaVersion": SCHEMA_VERSION, "projectId": project_id, "needsTraining": False, "images": {}}


class Manifest:
    def __init__(self, container: ContainerClient) -> None:
        self.container = container
        self._load()

    def _load(self) -> None:
        found = read_json(self.container, MANIFEST)
        self.data: dict[str, Any] = found.data if found else _empty(None)
        self.data.setdefault("images", {})
        self.data.setdefault("needsTraining", False)
        self.data["schemaVersion"] = SCHEMA_VERSION  # entries of version 1 are read as they are
        self.etag = found.etag if found else None
        self._base = json.loads(json.dumps(self.data))  # what was read: the other side of a merge

    def for_project(self, project_id: str) -> None:
        """A manifest made for another project says nothing about this one: start it afresh."""
        if self.data.get("projectId") != project_id:
            self.data = _empty(project_id)

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
