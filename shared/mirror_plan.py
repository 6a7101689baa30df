"""The mirror's diff: what must happen in Custom Vision so the project's training set equals the container.

Pure: no storage, no service. Input is one listing of the training container, the manifest's entries
(blob name -> the image it became) and a function that hashes a blob whose store set no Content-MD5
(called only for new or changed blobs). Output is the work, each kind apart: images to delete, images
to retag (a move: the same content in another folder), blobs to upload, and manifest-only writes
(renames within a tag, duplicates, dropped entries, names the service refuses). Images the pipeline
did not upload are never in the manifest as owned, so nothing here can ever touch them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

MAX_TAG_NAME = 256  # the service's limit (localvision: 1 to 256 characters after trimming)
INVALID_TAG_NAME = "InvalidTagName"
OWNED_STATUSES = frozenset({"OK", "Imported"})
DUPLICATE = "OKDuplicate"
REPLACED = "Replaced"  # an entry whose old image was deleted; its new content is still to upload


@dataclass(frozen=True)
class Listed:
    """One blob of the training container's listing."""

    name: str
    etag: str
    size: int
    md5: str | None = None  # "md5:<hex>" when the store set Content-MD5


@dataclass(frozen=True)
class Folder:
    """The tag a blob's top folder stands for: ``key`` is how tags are matched (trimmed, case-folded)."""

    name: str
    key: str
    negative: bool
    valid: bool


@dataclass(frozen=True)
class Entry:
    """What a training blob became in the project (one manifest entry)."""

    etag: str | None
    hash: str | None
    image_id: str | None
    tag: str | None  # the folder's tag key
    tag_ids: tuple[str, ...] = ()
    status: str = "OK"  # OK | OKDuplicate | Imported | Replaced | a failure code
    owned: bool = False  # the pipeline uploaded (or imported) this image: it may retag or delete it

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        status = str(data.get("status") or "OK")
        image_id = data.get("imageId")
        owned = data.get("owned")
        tag = data.get("tag")
        return cls(
            etag=data.get("etag"),
            hash=data.get("hash"),
            image_id=image_id,
            tag=tag_key(tag) if isinstance(tag, str) else None,
            tag_ids=tuple(data.get("tagIds") or ()),
            status=status,
            # manifests written before the mirror had no "owned": an image uploaded with OK was ours
            owned=bool(image_id) and (bool(owned) if owned is not None else status in OWNED_STATUSES),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "etag": self.etag,
            "hash": self.hash,
            "imageId": self.image_id,
            "tag": self.tag,
            "tagIds": list(self.tag_ids),
            "status": self.status,
            "owned": self.owned,
        }


@dataclass(frozen=True)
class Upload:
    blob: Listed
    folder: Folder
    hash: str
    replaced: bool  # new content under a name whose old image was (or is being) deleted


@dataclass(frozen=True)
class Retag:
    """Give an owned image the tag of ``blob``'s folder (no upload, same image id)."""

    blob: Listed
    folder: Folder
    hash: str
    image_id: str
    old_tag: str | None
    old_tag_ids: tuple[str, ...]
    source: str  # the manifest entry the image comes from (the blob it was, before the move)


@dataclass(frozen=True)
class Delete:
    name: str
    image_id: str
    replaced: bool  # the blob is still there with new content (else it is gone)


@dataclass
class Plan:
    deletes: list[Delete] = field(default_factory=list)
    retags: list[Retag] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    writes: dict[str, Entry | None] = field(default_factory=dict)  # manifest-only changes (None: drop)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (blob, code), no call needed
    listed: int = 0
    unchanged: int = 0
    ignored: int = 0
    duplicates: int = 0

    @property
    def has_work(self) -> bool:
        return bool(self.deletes or self.retags or self.uploads)


def tag_key(name: str) -> str:
    """How the service compares tag names: trimmed and case-insensitive."""
    return name.strip().casefold()


def folder_of(blob_name: str, negative_folder: str) -> Folder | None:
    """The folder of ``{folder}/{file}``; None for a blob at the top (no folder: ignored)."""
    top, sep, rest = blob_name.partition("/")
    if not sep or not rest:
        return None
    name = top.strip()
    negative = tag_key(name) == tag_key(negative_folder)
    return Folder(name, tag_key(name), negative, valid=0 < len(name) <= MAX_TAG_NAME)


def md5_of(content_md5: bytes | bytearray | None) -> str | None:
    return f"md5:{bytes(content_md5).hex()}" if content_md5 else None


def md5_from_base64(text: str | None) -> str | None:
    return md5_of(base64.b64decode(text)) if text else None


def has_changes(listing: Iterable[Listed], entries: Mapping[str, Entry], negative_folder: str) -> bool:
    """Anything new, changed or gone since the manifest was written (cheap: no hashing, no calls)."""
    seen = set()
    for blob in listing:
        if folder_of(blob.name, negative_folder) is None:
            continue
        seen.add(blob.name)
        entry = entries.get(blob.name)
        if entry is None:
            return True
        if entry.etag != blob.etag and not (blob.md5 and blob.md5 == entry.hash):
            return True
    return any(name not in seen for name in entries)


def diff(
    listing: Iterable[Listed],
    entries: Mapping[str, Entry],
    negative_folder: str,
    hash_of: Callable[[Listed], str],
) -> Plan:
    plan = Plan()
    present: dict[str, Listed] = {}
    steady: dict[str, Entry] = {}  # present and unchanged
    fresh: list[tuple[Listed, Folder, str]] = []  # new or changed content
    for blob in sorted(listing, key=lambda b: b.name):
        plan.listed += 1
        folder = folder_of(blob.name, negative_folder)
        if folder is None:
            plan.ignored += 1
            continue
        present[blob.name] = blob
        entry = entries.get(blob.name)
        if entry is not None and entry.etag == blob.etag:
            if entry.hash is None and blob.md5:  # an entry from before hashes: learn it for free
                entry = replace(entry, hash=blob.md5)
                plan.writes[blob.name] = entry
            steady[blob.name] = entry
            continue
        digest = blob.md5 or hash_of(blob)
        if entry is not None and entry.hash == digest and entry.tag == folder.key:
            entry = replace(entry, etag=blob.etag)  # the same bytes written again
            plan.writes[blob.name] = entry
            steady[blob.name] = entry
            continue
        fresh.append((blob, folder, digest))

    # Owned images whose blob is gone or holds new content: a fresh blob with their bytes takes them over.
    fresh_names = {blob.name for blob, _, _ in fresh}
    released: dict[str, Entry] = {
        name: entry
        for name, entry in entries.items()
        if entry.owned and entry.image_id and (name not in present or name in fresh_names)
    }
    by_hash: dict[str, list[str]] = {}
    for name, entry in sorted(released.items()):
        if entry.hash:
            by_hash.setdefault(entry.hash, []).append(name)
    # content in the project through a steady blob: its own image, or a copy of someone else's
    live: dict[str, str | None] = {e.hash: e.image_id for e in steady.values() if e.hash and e.owned}
    for entry in steady.values():
        if entry.hash and entry.status == DUPLICATE:
            live.setdefault(entry.hash, entry.image_id)

    claimed: set[str] = set()
    rest: list[tuple[Listed, Folder, str]] = []
    for blob, folder, digest in fresh:
        if not folder.valid:
            plan.failures.append((blob.name, INVALID_TAG_NAME))
            plan.writes[blob.name] = Entry(blob.etag, digest, None, folder.key, (), INVALID_TAG_NAME)
            continue
        candidates = [name for name in by_hash.get(digest, []) if name not in claimed]
        if not candidates:
            rest.append((blob, folder, digest))
            continue
        source = candidates[0]
        claimed.add(source)
        old = released[source]
        live[digest] = old.image_id
        if source != blob.name:  # the image leaves its old blob (whose new content, if any, comes next)
            plan.writes.setdefault(source, None)
        if old.tag == folder.key:  # renamed inside its folder: nothing changes in the project
            plan.writes[blob.name] = replace(old, etag=blob.etag, hash=digest)
            plan.unchanged += 1
        else:
            plan.retags.append(_retag(blob, folder, digest, source, old))

    # Released images no fresh blob took: a steady copy of the same bytes inherits them.
    heirs: dict[str, str] = {}
    for name, entry in steady.items():
        if entry.status == DUPLICATE and entry.hash:
            heirs.setdefault(entry.hash, name)
    for name, entry in sorted(released.items()):
        heir = heirs.pop(entry.hash, None) if entry.hash and name not in claimed else None
        if heir is None:
            continue
        claimed.add(name)
        plan.writes.setdefault(name, None)
        heir_entry = steady[heir]
        if heir_entry.tag == entry.tag:
            plan.writes[heir] = replace(entry, etag=heir_entry.etag, status="OK")
        else:
            folder = folder_of(heir, negative_folder)
            assert folder is not None and entry.hash is not None
            plan.retags.append(_retag(present[heir], folder, entry.hash, name, entry))
            del steady[heir]

    uploading: set[str] = set()
    for blob, folder, digest in rest:
        entry = entries.get(blob.name)
        if digest in live or digest in uploading:  # a copy of content already in the project
            plan.duplicates += 1
            plan.writes[blob.name] = Entry(blob.etag, digest, live.get(digest), folder.key, (), DUPLICATE)
            continue
        uploading.add(digest)
        replaced = entry is not None and (
            entry.status == REPLACED or (blob.name in released and blob.name not in claimed)
        )
        plan.uploads.append(Upload(blob, folder, digest, replaced))

    for name, entry in sorted(released.items()):  # nobody took them: delete their images
        if name not in claimed:
            plan.deletes.append(Delete(name, entry.image_id, replaced=name in present))  # type: ignore[arg-type]
    for name in entries:  # gone blobs that own nothing: forget them
        if name not in present and name not in released:
            plan.writes[name] = None
    plan.unchanged += len(steady)
    return plan


def _retag(blob: Listed, folder: Folder, digest: str, source: str, old: Entry) -> Retag:
    assert old.image_id is not None
    return Retag(blob, folder, digest, old.image_id, old.tag, old.tag_ids, source)
