"""The mirror's diff: what must happen in Custom Vision so the project's training set equals the container.

Pure: no storage, no service. Input is one listing of the training container, the manifest's entries
(blob name -> the image it became) and a function that hashes a blob whose store set no Content-MD5
(called only for new or changed blobs). Output is the work, each kind apart: images to delete, images
to retag (a move: the same content in another folder), blobs to upload, and manifest-only writes
(renames within a tag, duplicates, dropped entries, names the service refuses). Images the pipeline
did not upload are never in the manifest as owned, so nothing here can ever touch them.
"""

from __future__ import annotations

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
    duplicate_blobs: list[str] = field(default_factory=list)  # copies of content already in the project

    @property
    def duplicates(self) -> int:
        return len(self.duplicate_blobs)

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
    """The work that makes the project equal to ``listing``; ``hash_of`` only for new or changed blobs."""
    differ = _Differ(entries, negative_folder)
    differ.sort(listing, hash_of)
    differ.take_over_moves()
    differ.let_copies_inherit()
    differ.upload_the_rest()
    differ.delete_the_unclaimed()
    return differ.plan


class _Differ:
    """The phases of ``diff``, in order, sharing what each learnt."""

    def __init__(self, entries: Mapping[str, Entry], negative_folder: str) -> None:
        self.entries = entries
        self.negative_folder = negative_folder
        self.plan = Plan()
        self.present: dict[str, Listed] = {}
        self.steady: dict[str, Entry] = {}  # present and unchanged
        self.fresh: list[tuple[Listed, Folder, str]] = []  # new or changed content, with its hash
        self.released: dict[str, Entry] = {}  # owned images whose blob is gone or holds new content
        self.claimed: set[str] = set()  # released entries whose image another blob takes over
        self.live: dict[str, str | None] = {}  # content in the project through a steady blob -> image
        self.rest: list[tuple[Listed, Folder, str]] = []  # fresh blobs that took over nothing

    def sort(self, listing: Iterable[Listed], hash_of: Callable[[Listed], str]) -> None:
        plan = self.plan
        for blob in sorted(listing, key=lambda b: b.name):
            plan.listed += 1
            folder = folder_of(blob.name, self.negative_folder)
            if folder is None:
                plan.ignored += 1
                continue
            self.present[blob.name] = blob
            entry = self.entries.get(blob.name)
            if entry is not None and entry.etag == blob.etag:
                if entry.hash is None and blob.md5:  # an entry from before hashes: learn it for free
                    entry = plan.writes[blob.name] = replace(entry, hash=blob.md5)
                self.steady[blob.name] = entry
                continue
            digest = blob.md5 or hash_of(blob)
            if entry is not None and entry.hash == digest and entry.tag == folder.key:
                entry = plan.writes[blob.name] = replace(entry, etag=blob.etag)  # same bytes written again
                self.steady[blob.name] = entry
                continue
            self.fresh.append((blob, folder, digest))
        fresh_names = {blob.name for blob, _, _ in self.fresh}
        self.released = {
            name: entry
            for name, entry in sorted(self.entries.items())
            if entry.owned and entry.image_id and (name not in self.present or name in fresh_names)
        }
        self.live = {e.hash: e.image_id for e in self.steady.values() if e.hash and e.owned}
        for entry in self.steady.values():
            if entry.hash and entry.status == DUPLICATE:
                self.live.setdefault(entry.hash, entry.image_id)

    def take_over_moves(self) -> None:
        """A fresh blob with the bytes of a released image takes the image over: a move or a rename."""
        by_hash: dict[str, list[str]] = {}
        for name, entry in self.released.items():
            if entry.hash:
                by_hash.setdefault(entry.hash, []).append(name)
        plan = self.plan
        for blob, folder, digest in self.fresh:
            if not folder.valid:
                plan.failures.append((blob.name, INVALID_TAG_NAME))
                plan.writes[blob.name] = Entry(blob.etag, digest, None, folder.key, (), INVALID_TAG_NAME)
                continue
            source = next((n for n in by_hash.get(digest, []) if n not in self.claimed), None)
            if source is None:
                self.rest.append((blob, folder, digest))
                continue
            self.claimed.add(source)
            old = self.released[source]
            self.live[digest] = old.image_id
            if source != blob.name:  # the image leaves its old blob (whose new content, if any, comes next)
                plan.writes.setdefault(source, None)
            if old.tag == folder.key:  # renamed inside its folder: nothing changes in the project
                plan.writes[blob.name] = replace(old, etag=blob.etag, hash=digest)
                plan.unchanged += 1
            else:
                plan.retags.append(_retag(blob, folder, digest, source, old))

    def let_copies_inherit(self) -> None:
        """A released image no fresh blob took goes to a steady copy of the same bytes, if there is one."""
        heirs: dict[str, str] = {}
        for name, entry in self.steady.items():
            if entry.status == DUPLICATE and entry.hash:
                heirs.setdefault(entry.hash, name)
        for name, entry in self.released.items():
            heir = heirs.pop(entry.hash, None) if entry.hash and name not in self.claimed else None
            if heir is None:
                continue
            self.claimed.add(name)
            self.plan.writes.setdefault(name, None)
            heir_entry = self.steady[heir]
            if heir_entry.tag == entry.tag:
                self.plan.writes[heir] = replace(entry, etag=heir_entry.etag, status="OK")
            else:
                folder = folder_of(heir, self.negative_folder)
                assert folder is not None and entry.hash is not None
                self.plan.retags.append(_retag(self.present[heir], folder, entry.hash, name, entry))
                del self.steady[heir]  # counted as retagged, not unchanged

    def upload_the_rest(self) -> None:
        uploading: set[str] = set()
        for blob, folder, digest in self.rest:
            if digest in self.live or digest in uploading:  # a copy of content already in the project
                self.plan.duplicate_blobs.append(blob.name)
                self.plan.writes[blob.name] = Entry(
                    blob.etag, digest, self.live.get(digest), folder.key, (), DUPLICATE
                )
                continue
            uploading.add(digest)
            entry = self.entries.get(blob.name)
            replaced = entry is not None and (
                entry.status == REPLACED or (blob.name in self.released and blob.name not in self.claimed)
            )
            self.plan.uploads.append(Upload(blob, folder, digest, replaced))

    def delete_the_unclaimed(self) -> None:
        for name, entry in self.released.items():
            if name not in self.claimed:
                assert entry.image_id is not None
                self.plan.deletes.append(Delete(name, entry.image_id, replaced=name in self.present))
        for name in self.entries:  # gone blobs that own nothing: forget them
            if name not in self.present and name not in self.released:
                self.plan.writes[name] = None
        self.plan.unchanged += len(self.steady)


def _retag(blob: Listed, folder: Folder, digest: str, source: str, old: Entry) -> Retag:
    assert old.image_id is not None
    return Retag(blob, folder, digest, old.image_id, old.tag, old.tag_ids, source)
