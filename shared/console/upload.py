"""Filling the training set from the console: one photo per request into training/{tag}/ (a new tag is a
new folder), checked like the pipeline checks images, names made safe, and the same photo never stored
twice: a duplicate by content is refused and named, and the duplicates already there are listed.

Duplicates are found by the blobs' Content-MD5 (one listing of the training container; uploads here
set it, and the storage service sets it for every blob written in one piece).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContentSettings

from shared.console.areas import Areas
from shared.console.http import BadRequest, CatalogueRefusal, Conflict, Unprocessable
from shared.errors import PermanentError
from shared.imaging import TRAINING_MAX_BYTES, normalise

UPLOAD_MAX_BYTES = 20 * 1024 * 1024
MAX_FILE_NAME = 100
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,49}")


def clean_tag(tag: str, negative_folder: str) -> str:
    """A tag folder name: letters, digits, space, '_', '.', '-' (at most 50), or the Negative folder."""
    tag = tag.strip()
    if tag == negative_folder or TAG_PATTERN.fullmatch(tag):
        return tag
    raise BadRequest(
        "BadParameter",
        name="tag",
        why="1 to 50 letters, digits, spaces, '_', '.' or '-', starting with a letter or digit",
    )


def clean_file_name(name: str) -> str:
    """The file part of a picked file's name, as ASCII letters, digits, '.', '_' and '-' only."""
    base = posixpath.basename(name.replace("\\", "/"))
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, ext = posixpath.splitext(ascii_name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-.") or "image"
    ext = re.sub(r"[^A-Za-z0-9]", "", ext).lower()
    return f"{stem[: MAX_FILE_NAME - 6]}.{ext or 'jpg'}"


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _contents(areas: Areas) -> dict[bytes, list[str]]:
    """Content-MD5 -> names of the training blobs with those bytes."""
    found: dict[bytes, list[str]] = {}
    try:
        for blob in areas.containers["training"].list_blobs():
            md5 = blob.content_settings.content_md5
            if md5:
                found.setdefault(bytes(md5), []).append(blob.name)
    except ResourceNotFoundError:
        pass
    return found


def upload(areas: Areas, params: Mapping[str, str], data: bytes, negative_folder: str) -> dict[str, Any]:
    """POST training/upload?tag=&name= with the photo's bytes as the body."""
    tag = clean_tag(params.get("tag", ""), negative_folder)
    file_name = clean_file_name(params.get("name", ""))
    if len(data) > UPLOAD_MAX_BYTES:
        raise Unprocessable("ImageTooLarge", limit=f"{UPLOAD_MAX_BYTES // 2**20} MB")
    try:
        image = normalise(data, TRAINING_MAX_BYTES)
    except PermanentError as error:
        raise CatalogueRefusal(error) from None
    stored = image.data
    contents = _contents(areas)
    same = contents.get(_md5(stored)) or contents.get(_md5(data))
    if same:
        raise Conflict("DuplicateImage", name=file_name, existing=f"training/{same[0]}")
    if image.changes:
        file_name = posixpath.splitext(file_name)[0] + ".jpg"
    at = areas.create("training", f"{tag}/{file_name}", stored, _settings(stored))
    return {"stored": at.as_dict(), "changes": list(image.changes)}


def _settings(data: bytes) -> ContentSettings:
    return ContentSettings(content_type="image/jpeg" if data[:2] == b"\xff\xd8" else None,
                           content_md5=bytearray(_md5(data)))  # fmt: skip


def duplicates(areas: Areas) -> dict[str, Any]:
    """Groups of training blobs holding the same bytes (the sync uploads only one of each)."""
    groups = [sorted(names) for names in _contents(areas).values() if len(names) > 1]
    return {"groups": sorted(groups)}
