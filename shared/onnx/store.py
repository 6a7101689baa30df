"""The current ONNX model of one instance (onnx mode): loaded once, checked, swapped on a new current.json.

``ModelStore.current()`` re-reads ``models/current.json`` at most every ``refresh_seconds`` (and on every
call while there is no usable model), with a conditional GET: an unchanged pointer costs one 304. A new
pointer's zip is downloaded, its SHA-1 compared with the pointer's, and it is checked by
``OnnxClassifier.load`` before it replaces the model in use; checked models are cached by the zip's
SHA-1. A zip or pointer that cannot be used is refused (``ModelRefused``, with the reason) and the
previous model kept; with none, the refusal is what ``current()`` raises. A refused pointer is tried again
only when its ETag changes; a storage error while reading it leaves it to be read again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
)
from azure.storage.blob import ContainerClient

from shared import documents
from shared.errors import PermanentError
from shared.onnx.model import ModelError, OnnxClassifier
from shared.onnx.pointer import POINTER_BLOB, ModelPointer, parse_pointer, zip_sha1
from shared.settings.definitions import Settings

log = logging.getLogger(__name__)
# How often an instance looks for a new current.json: a new model is in use within this many seconds.
MODEL_REFRESH_SECONDS = 15.0
# Larger than any compact-domain export (~12 MB); a bigger blob is refused before it is downloaded.
MAX_ZIP_BYTES = 256 * 1024 * 1024
CACHED_MODELS = 2  # the model in use and the one before it


@dataclass(frozen=True)
class LoadedModel:
    """A checked model and what the result documents say about it."""

    classifier: OnnxClassifier
    sha1: str
    info: documents.ModelInfo
    tag_ids: dict[str, str | None]

    def predictions(self, image: bytes) -> list[documents.Prediction]:
        """Every tag with its probability, highest first, as the service's predictions are written."""
        rows = [
            documents.Prediction(name, self.tag_ids.get(name), round(probability, 6))
            for name, probability in self.classifier.predict(image)
        ]
        return sorted(rows, key=lambda row: (-row.probability, row.tag_name))


class ModelStore:
    def __init__(
        self,
        settings: Settings,
        container: ContainerClient,
        *,
        refresh_seconds: float = MODEL_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.container = container
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._model: LoadedModel | None = None
        self._error: PermanentError | None = None  # why there is no model, when current.json is unusable
        self._pointer_etag: str | None = None
        self._checked_at = float("-inf")
        self._classifiers: dict[str, OnnxClassifier] = {}

    def current(self) -> LoadedModel:
        """The model to classify with; PermanentError NoPublishedModel (or the reason it is unusable)."""
        with self._lock:
            now = self._clock()
            if self._model is None or now - self._checked_at >= self.refresh_seconds:
                self._refresh()
                self._checked_at = now
            if self._model is not None:
                return self._model
            if self._error is not None:
                raise self._error
            raise PermanentError(
                "NoPublishedModel",
                publishedName=self.settings.published_name,
                projectId=self.settings.customvision_project_id or self.settings.customvision_project_name,
            )

    def _refresh(self) -> None:
        try:
            if self._pointer_etag is None:
                downloader = self.container.download_blob(POINTER_BLOB)
            else:
                downloader = self.container.download_blob(
                    POINTER_BLOB, etag=self._pointer_etag, match_condition=MatchConditions.IfModified
                )
            raw = downloader.readall()
        except (ResourceNotModifiedError, ResourceModifiedError) as unchanged:
            if unchanged.status_code != 304:  # the storage SDK reports a 304 as either class
                raise
            return
        except ResourceNotFoundError:
            if self._model is not None:
                log.warning("%s was removed: no model to classify with", POINTER_BLOB)
            self._model, self._error, self._pointer_etag = None, None, None
            return
        etag = downloader.properties.etag
        try:
            model = self._load(_pointer(raw))
        except AzureError:  # storage failed, not the model: read this version again next time
            if self._model is None:
                raise
            log.warning("the model %s points at could not be read; the model in use stays", POINTER_BLOB)
            return
        except PermanentError as error:
            self._refuse(etag, error.code, error.message)
            return
        except Exception:  # MemoryError, onnxruntime's own classes: refused once, not on every image
            log.exception("the model %s points at could not be loaded", POINTER_BLOB)
            self._refuse(etag, "ModelLoadFailed", "it could not be loaded; the app's log has the details")
            return
        self._pointer_etag = etag
        if self._model is None or model.sha1 != self._model.sha1:
            log.info("model in use: %s (iteration %s)", model.sha1, model.info.iteration_id)
        self._model, self._error = model, None

    def _refuse(self, etag: str | None, code: str, reason: str) -> None:
        """Remember the refusal of this version of current.json; the model in use (if any) stays."""
        self._pointer_etag = etag
        in_use = self._model.info.iteration_id if self._model else None
        log.warning("ModelRefused (%s): %s; model in use: %s", code, reason, in_use or "none")
        if self._model is None:
            self._error = PermanentError("ModelRefused", reason=reason)

    def _load(self, pointer: ModelPointer) -> LoadedModel:
        data = self._download(pointer.model_blob)
        sha1 = zip_sha1(data)
        if pointer.sha1 and pointer.sha1.strip().lower() != sha1:
            raise ModelError(
                "ModelChecksumMismatch",
                f"{pointer.model_blob} has SHA-1 {sha1} but current.json says {pointer.sha1.strip()}",
            )
        classifier = self._classifiers.get(sha1) or OnnxClassifier.load(data)
        if pointer.labels is not None and set(pointer.tag_ids()) != set(classifier.info.labels):
            raise PermanentError(
                "ModelPointerInvalid", detail="its labels are not the tags listed in the zip's labels.txt"
            )
        self._classifiers = {sha1: classifier, **self._classifiers}
        for old in list(self._classifiers)[CACHED_MODELS:]:
            del self._classifiers[old]
        info = documents.ModelInfo(
            project_id=pointer.project_id or self.settings.customvision_project_id,
            published_name=pointer.published_name or self.settings.published_name,
            iteration_id=pointer.iteration_id or classifier.info.iteration_id,
            source="onnx",
        )
        return LoadedModel(classifier, sha1, info, pointer.tag_ids())

    def _download(self, name: str) -> bytes:
        blob = self.container.get_blob_client(name)
        try:
            size = blob.get_blob_properties().size
            if size > MAX_ZIP_BYTES:
                raise ModelError("ModelInvalid", f"{name} is larger than {MAX_ZIP_BYTES // 2**20} MB")
            return blob.download_blob().readall()
        except ResourceNotFoundError:
            raise PermanentError(
                "ModelPointerInvalid", detail=f"modelBlob names {name}, which is not in the container"
            ) from None


def _pointer(raw: bytes) -> ModelPointer:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PermanentError("ModelPointerInvalid", detail="it is not JSON") from None
    return parse_pointer(data)
