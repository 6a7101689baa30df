"""The pipeline's current ONNX model on storage: ``models/{iterationId}.zip`` and ``models/current.json``.

``current.json`` points at the zip the classifier uses (onnx mode). The retrain cycle writes both after
an export; a user can write them by hand for a model exported from the Custom Vision portal
(docs/onnx.md). The zip is written first, ``current.json`` last, both conditionally, so a reader never
finds a pointer to a zip that is not there.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.storage.blob import ContainerClient, ContentSettings

from shared.contracts import OMIT_IF_NONE, ContractError, decode, encode
from shared.errors import PermanentError
from shared.storage import ensure_container, read_json, write_json

log = logging.getLogger(__name__)
MODELS_PREFIX = "models/"
POINTER_BLOB = "models/current.json"
WRITE_ATTEMPTS = 5


def model_blob_name(iteration_id: str) -> str:
    return f"{MODELS_PREFIX}{iteration_id}.zip"


@dataclass(frozen=True)
class Label:
    """A tag of the model: its name as in labels.txt and its Custom Vision id (null when unknown)."""

    tag_name: str
    tag_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelPointer:
    """current.json. Only ``modelBlob`` is required; ``sha1`` (of the whole zip) is checked when given."""

    schema_version: int = 1
    model_blob: str
    sha1: str | None = None
    iteration_id: str | None = None
    project_id: str | None = None
    published_name: str | None = None
    labels: list[Label] | None = None
    exported_at: str | None = None
    flavor: str | None = field(default=None, metadata=OMIT_IF_NONE)

    def tag_ids(self) -> dict[str, str | None]:
        return {label.tag_name: label.tag_id for label in self.labels or []}


def parse_pointer(data: Any) -> ModelPointer:
    """current.json as a ModelPointer; PermanentError ModelPointerInvalid naming what is wrong."""
    if not isinstance(data, dict):
        raise PermanentError("ModelPointerInvalid", detail="it is not a JSON object")
    try:
        pointer = decode(ModelPointer, data)
    except ContractError as error:  # its text names the field by its JSON path, e.g. $.modelBlob
        raise PermanentError("ModelPointerInvalid", detail=str(error)) from None
    if not pointer.model_blob.startswith(MODELS_PREFIX) or ".." in pointer.model_blob:
        raise PermanentError(
            "ModelPointerInvalid", detail=f"modelBlob must name a blob under {MODELS_PREFIX}"
        )
    return pointer


def zip_sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def store_model(container: ContainerClient, zip_bytes: bytes, pointer: ModelPointer) -> None:
    """Write the zip (create-if-absent; an existing blob with other content is replaced only in the version
    read), then point current.json at it (replace-if-unchanged)."""
    ensure_container(container)
    _write_zip(container, pointer.model_blob, zip_bytes)
    body = encode(pointer)
    for _ in range(WRITE_ATTEMPTS):
        existing = read_json(container, POINTER_BLOB)
        try:
            write_json(container, POINTER_BLOB, body, if_match=existing.etag if existing else None)
            return
        except (ResourceExistsError, ResourceModifiedError):
            continue  # another cycle wrote meanwhile: read its version and write ours over it
    raise RuntimeError("models/current.json kept changing under us; the step is retried")


def _write_zip(container: ContainerClient, name: str, data: bytes) -> None:
    blob = container.get_blob_client(name)
    content = ContentSettings(content_type="application/zip")
    try:
        blob.upload_blob(data, overwrite=False, content_settings=content)
        return
    except ResourceExistsError:
        pass
    downloader = blob.download_blob()
    if zip_sha1(downloader.readall()) == zip_sha1(data):
        return  # a repeated step: the same zip is already there
    blob.upload_blob(
        data, overwrite=True, content_settings=content, etag=downloader.properties.etag,
        match_condition=MatchConditions.IfNotModified,
    )  # fmt: skip
