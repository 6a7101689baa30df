"""Classify images: blobs from the images container (one result document each) and the quick test.

Idempotency: the result document carries the image blob's ETag. A run for a blob whose document already
has that ETag changes nothing, and documents are only ever written conditionally (create-if-absent or
replace-if-unchanged), so two concurrent runs for the same blob version cannot write two answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from shared import documents, imaging
from shared.customvision import CustomVision
from shared.errors import PermanentError, TransientError
from shared.settings import Settings
from shared.storage import JsonBlob, Storage, ensure_container, read_json, write_json

log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class BlobRef:
    container: str
    name: str
    etag: str
    size: int | None


class Classifier:
    def __init__(self, settings: Settings, storage: Storage, cv: CustomVision) -> None:
        self.settings = settings
        self.storage = storage
        self.cv = cv
        self.images = storage.container(settings["IMAGES_CONTAINER"])
        self.results = storage.container(settings["RESULTS_CONTAINER"])
        self.review = storage.container(settings["REVIEW_CONTAINER"])

    # --- the blob trigger ---------------------------------------------------------------------------

    def blob_name(self, trigger_name: str) -> str:
        """The blob's name inside the images container (the host passes "images/<name>")."""
        prefix = self.settings["IMAGES_CONTAINER"] + "/"
        return trigger_name[len(prefix) :] if trigger_name.startswith(prefix) else trigger_name

    def reference(self, name: str, etag: str | None, size: int | None) -> BlobRef | None:
        """The blob version being processed; reads its properties only when the trigger gave no ETag."""
        if etag is None:
            try:
                props = self.images.get_blob_client(name).get_blob_properties()
            except ResourceNotFoundError:
                return None
            etag, size = props.etag, props.size
        return BlobRef(self.settings["IMAGES_CONTAINER"], name, etag, size)

    def classify_blob(self, blob: BlobRef, data: bytes) -> dict[str, Any]:
        """Classify one blob version and write its result document; return the document now stored."""
        doc_name = f"{blob.name}.json"
        existing = read_json(self.results, doc_name)
        if existing and self._settled(existing.data, blob.etag):
            log.info("results/%s already holds ETag %s: nothing to do", doc_name, blob.etag)
            return existing.data
        source = documents.blob_info(blob.container, blob.name, blob.etag, blob.size)
        try:
            document = self._classify(data, source, "blob")
        except PermanentError as error:
            log.warning("%s (ETag %s): %s %s", blob.name, blob.etag, error.code, error.message)
            document = documents.error_document(source=source, source_key="blob", error=error)
        if (
            document["status"] == "ok"
            and documents.top_probability(document) < self.settings["REVIEW_THRESHOLD"]
        ):
            ensure_container(self.review)
            self.review.upload_blob(blob.name, data, overwrite=True)
        return self._store(doc_name, document, existing)

    def record_poisoned(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """After the host gave up on a blob (5 failed tries), write a retryable error document for it.

        Nothing is written when the message is about another container, when the document for that
        ETag exists, or when the blob has since changed or gone (a newer version has its own run).
        """
        if message.get("ContainerName") != self.settings["IMAGES_CONTAINER"]:
            return None
        name, etag = message.get("BlobName", ""), message.get("ETag", "")
        doc_name = f"{name}.json"
        existing = read_json(self.results, doc_name)
        if existing and existing.data.get("blob", {}).get("etag") == etag:
            return None
        try:
            props = self.images.get_blob_client(name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        if props.etag != etag:
            return None
        error = TransientError(
            "RetriesExhausted",
            "Classification failed on every try (Custom Vision throttled, failed or could not be reached;"
            " the function's logs have each error). Upload the image again to retry once the service is"
            " healthy.",
        )
        source = documents.blob_info(self.settings["IMAGES_CONTAINER"], name, etag, props.size)
        return self._store(
            doc_name, documents.error_document(source=source, source_key="blob", error=error), existing
        )

    # --- the quick test ------------------------------------------------------------------------------

    def quick_test(self, data: bytes, source: dict[str, Any]) -> dict[str, Any]:
        """Classify without storing anything; permanent errors come back as error documents."""
        try:
            return self._classify(data, source, "source")
        except PermanentError as error:
            return documents.error_document(source=source, source_key="source", error=error)

    # --- shared -------------------------------------------------------------------------------------

    @staticmethod
    def _settled(document: dict[str, Any], etag: str) -> bool:
        """True when the document answers this ETag for good (a retryable error may be replaced)."""
        if document.get("blob", {}).get("etag") != etag:
            return False
        return not (document.get("status") == "error" and document.get("error", {}).get("retryable"))

    def _classify(self, data: bytes, source: dict[str, Any], source_key: str) -> dict[str, Any]:
        image = imaging.normalise(data, imaging.PREDICTION_MAX_BYTES)
        if image.changes:
            log.info("%s: %s", source.get("name") or source_key, "; ".join(image.changes))
        project_id = self.cv.project_id(create=False)
        published = self.settings["PUBLISHED_NAME"]
        try:
            result = self.cv.prediction(
                lambda p: p.classify_image_with_no_store(project_id, published, image.data), "classify"
            )
        except PermanentError as error:
            raise self._explain(error, project_id) from error
        return documents.ok_document(
            source=source,
            source_key=source_key,
            project_id=project_id,
            published_name=published,
            iteration_id=result.iteration,
            threshold=self.settings["PREDICTION_THRESHOLD"],
            predictions=documents.predictions_of(result),
        )

    def _explain(self, error: PermanentError, project_id: str) -> PermanentError:
        """Turn the service's codes into what the user has to do."""
        if error.code != "NotFoundIteration":
            return error
        self.cv.verify_project()  # a missing project raises ProjectNotFound naming the setting
        return PermanentError(
            "NoPublishedModel",
            f"No iteration is published as {self.settings['PUBLISHED_NAME']!r} (PUBLISHED_NAME) in project "
            f"{project_id}: run a retrain cycle (POST /api/retrain) or publish an iteration under that name",
        )

    def _store(self, doc_name: str, document: dict[str, Any], existing: JsonBlob | None) -> dict[str, Any]:
        """Write conditionally; if another run wrote meanwhile, keep its document when it has our ETag."""
        etag = document["blob"]["etag"]
        ensure_container(self.results)
        for _ in range(WRITE_ATTEMPTS):
            try:
                write_json(self.results, doc_name, document, if_match=existing.etag if existing else None)
                return document
            except (ResourceExistsError, ResourceModifiedError):
                existing = read_json(self.results, doc_name)
                if existing and self._settled(existing.data, etag):
                    return existing.data
        raise RuntimeError(f"results/{doc_name} kept changing under us; the host will retry")
