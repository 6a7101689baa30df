"""Classify images: blobs from the images container (one result document each) and the quick test.

Idempotency and order: the result document records the image blob's ETag and last-modified time. A run
for a blob whose document already answers that ETag changes nothing stored; documents are only written
conditionally (create-if-absent or replace-if-unchanged); and a document never replaces one for a newer
version of the blob (``replaces``), whatever order the runs finish in. The common run is the first for its
blob, so the document is not read beforehand: the create-if-absent write finds an existing one, which is
then read and weighed (a repeated run costs one more prediction, a first run one storage call less).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from shared import documents, imaging, telemetry
from shared.customvision.clients import CustomVision
from shared.documents import BlobInfo, Document, QuickSource
from shared.errors import PermanentError, TransientError
from shared.settings.definitions import Settings
from shared.storage import JsonBlob, Storage, ensure_container, read_json, write_json

if TYPE_CHECKING:  # onnx mode's model store imports onnxruntime: not loaded in service mode
    from shared.onnx.store import ModelStore

log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 5


def replaces(ours: BlobInfo, stored: dict[str, Any], current_etag: Callable[[], str | None]) -> bool:
    """Whether a document for ``ours`` may replace the ``stored`` document.

    Same version: only a retryable error is replaced. Another version: the later last-modified time
    wins; when the times cannot tell (equal to the second, or unknown) the blob's current ETag decides,
    as ETags are not ordered.
    """
    theirs = stored.get("blob") or {}
    if theirs.get("etag") == ours.etag:
        return stored.get("status") == "error" and bool((stored.get("error") or {}).get("retryable"))
    mine, other = ours.last_modified, theirs.get("lastModified")
    if mine and other and mine != other:
        return mine > other  # same fixed-width UTC format: text order is time order
    return current_etag() == ours.etag


class Classifier:
    """Turns an image into a result document: with the published Custom Vision model (service mode), or
    in-process with its ONNX export (onnx mode, ``models``: the instance's current model)."""

    def __init__(
        self, settings: Settings, storage: Storage, cv: CustomVision, models: ModelStore | None = None
    ) -> None:
        self.settings = settings
        self.cv = cv
        self.models = models
        self.images = storage.container(settings.images_container)
        self.results = storage.container(settings.results_container)
        self.review = storage.container(settings.review_container)
        # the host that answers in service mode, named in each document (``model.endpoint``)
        self.endpoint = urlsplit(settings.customvision_prediction_endpoint).netloc

    # --- the blob trigger ---------------------------------------------------------------------------

    def blob_name(self, trigger_name: str) -> str:
        """The blob's name inside the images container (the host passes "images/<name>")."""
        prefix = self.settings.images_container + "/"
        return trigger_name[len(prefix) :] if trigger_name.startswith(prefix) else trigger_name

    def reference(
        self, name: str, etag: str | None, size: int | None, last_modified: Any = None
    ) -> BlobInfo | None:
        """The blob version being processed; reads its properties only when the trigger gave no ETag."""
        if etag is None:
            try:
                props = self.images.get_blob_client(name).get_blob_properties()
            except ResourceNotFoundError:
                return None
            etag, size, last_modified = props.etag, props.size, props.last_modified
        container = self.settings.images_container
        return BlobInfo(container, name, etag, size, documents.parse_last_modified(last_modified))

    def _current_etag(self, name: str) -> str | None:
        try:
            return self.images.get_blob_client(name).get_blob_properties().etag
        except ResourceNotFoundError:
            return None

    @telemetry.image_span
    def classify_blob(self, blob: BlobInfo, data: bytes) -> dict[str, Any]:
        """Classify one blob version and write its result document; return the document now stored."""
        doc_name = documents.document_name(blob.name)
        if doc_name != f"{blob.name}.json":
            error = PermanentError("NameTooLong", length=len(blob.name), limit=documents.MAX_BLOB_NAME,
                                   maximum=documents.MAX_BLOB_NAME - len(".json"))  # fmt: skip
            log.warning(
                "images/%.80s... (%d characters): NameTooLong, results/%s",
                blob.name,
                len(blob.name),
                doc_name,
            )
            return self._store(doc_name, documents.error_document(error, blob=blob), None)
        try:
            document: Document = self._classify(data, blob=blob)
        except PermanentError as error:
            log.warning("%s (ETag %s): %s", blob.name, blob.etag, error.code)
            document = documents.error_document(error, blob=blob)
        if isinstance(document, documents.ResultDocument) and document.review_reason:
            self.review_copy(blob.name, data)
        return self._store(doc_name, document, None)

    @telemetry.traced("review copy", review=True)
    def review_copy(self, name: str, data: bytes) -> None:
        """Keep a low-confidence image in the review container for a person to tag."""
        ensure_container(self.review)
        self.review.upload_blob(name, data, overwrite=True)

    def record_poisoned(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """After the host gave up on a blob (5 failed tries), write a retryable error document for it.

        Nothing is written when the message is about another container, when the document for that
        ETag exists, or when the blob has since changed or gone (a newer version has its own run).
        """
        if message.get("ContainerName") != self.settings.images_container:
            return None
        name, etag = message.get("BlobName"), message.get("ETag")
        if not isinstance(name, str) or not isinstance(etag, str) or not name:
            return None
        doc_name = documents.document_name(name)
        existing = read_json(self.results, doc_name)
        if existing and (existing.data.get("blob") or {}).get("etag") == etag:
            return None
        try:
            props = self.images.get_blob_client(name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        if props.etag != etag:
            return None
        blob = self.reference(name, props.etag, props.size, props.last_modified)
        document = documents.error_document(TransientError("RetriesExhausted"), blob=blob)
        return self._store(doc_name, document, existing)

    # --- the quick test ------------------------------------------------------------------------------

    def quick_test(self, data: bytes, source: QuickSource) -> Document:
        """Classify without storing anything; permanent errors come back as error documents."""
        try:
            return self._classify(data, source=source)
        except PermanentError as error:
            return documents.error_document(error, source=source)

    # --- shared -------------------------------------------------------------------------------------

    def _classify(
        self, data: bytes, blob: BlobInfo | None = None, source: QuickSource | None = None
    ) -> documents.ResultDocument:
        with telemetry.stage("normalise"):
            image = imaging.normalise(data, imaging.PREDICTION_MAX_BYTES)
        if image.changes:
            log.info("%s: %s", blob.name if blob else "quick test", "; ".join(image.changes))
        with telemetry.predict_span("onnx" if self.models is not None else "service") as answered_by:
            if self.models is not None:
                model = self.models.current()
                info, predictions = model.info, model.predictions(image.data)
            else:
                info, predictions = self._predict(image.data, quick_test=source is not None)
            answered_by(info.iteration_id)
        threshold = self.settings.prediction_threshold
        return documents.ResultDocument(
            model=info,
            threshold=threshold,
            tags=[p.tag_name for p in predictions if p.probability >= threshold],
            predictions=predictions,
            classified_at=documents.utc_now(),
            blob=blob,
            source=source,
            # only a stored result goes to review; the quick test keeps nothing
            review_reason=documents.review_reason(predictions, self.settings.review_threshold)
            if blob
            else None,
        )

    def _predict(
        self, data: bytes, *, quick_test: bool
    ) -> tuple[documents.ModelInfo, list[documents.Prediction]]:
        """Service mode: the published iteration's prediction, over HTTP, in the pipeline's rate budget or the
        quick test's."""
        project_id = self.cv.project_id(create=False)
        published = self.settings.published_name
        try:
            result = self.cv.prediction(
                lambda p: p.classify_image_with_no_store(project_id, published, data),
                "classify",
                quick_test=quick_test,
            )
        except PermanentError as error:
            raise self._explain(error, project_id) from error
        info = documents.ModelInfo(project_id, published, result.iteration, "service", self.endpoint)
        return info, documents.predictions_of(result)

    def _explain(self, error: PermanentError, project_id: str) -> PermanentError:
        """Turn the service's codes into what the user has to do."""
        if error.service_code != "NotFoundIteration":
            return error
        self.cv.verify_project()  # a missing project raises ProjectNotFound naming the setting
        return PermanentError(
            "NoPublishedModel", publishedName=self.settings.published_name, projectId=project_id
        )

    @telemetry.traced("write result")
    def _store(self, doc_name: str, document: Document, existing: JsonBlob | None) -> dict[str, Any]:
        """Write conditionally; if another run wrote meanwhile, keep its document unless ours replaces it."""
        ours = document.blob
        assert ours is not None
        body = documents.as_json(document)
        ensure_container(self.results)
        for _ in range(WRITE_ATTEMPTS):
            if existing and not replaces(ours, existing.data, lambda: self._current_etag(ours.name)):
                log.info("results/%s already answers this or a newer version: kept", doc_name)
                return existing.data
            try:
                write_json(self.results, doc_name, body, if_match=existing.etag if existing else None)
                return body
            except (ResourceExistsError, ResourceModifiedError):
                existing = read_json(self.results, doc_name)
        raise RuntimeError(f"results/{doc_name} kept changing under us; the host will retry")
