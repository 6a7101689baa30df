"""The export step of a retrain cycle (onnx mode): export the published iteration to ONNX, wait until
Custom Vision has made it, download it, check it and make it the pipeline's current model.

The step asks for the export once, then polls ``get_exports`` by re-enqueueing the run with a delay, as
the poll step does. A project on a non-compact domain cannot export: the run records
``ExportNotSupported`` (what to do) and the current model stays; so does it when the export fails or the
zip cannot be used. The download link is the service's own (a SAS link on Azure): it is fetched without
a key, over http(s) only, with a size limit.
"""

from __future__ import annotations

import logging
from typing import Any

import urllib3

from shared import catalogue
from shared.customvision import links
from shared.documents import utc_now
from shared.errors import PermanentError, TransientError
from shared.onnx.pointer import Label, ModelPointer, model_blob_name, store_model, zip_sha1
from shared.retrain.context import StepContext
from shared.runs.record import Export, RunError, Step
from shared.runs.store import Run

log = logging.getLogger(__name__)
PLATFORM = "ONNX"
FLAVOR: str | None = None  # the default flavor: opset 17 (localvision) / the service's current default
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
# The service's codes for "this project's domain cannot export to this platform".
NOT_EXPORTABLE = frozenset({"BadRequestProjectUnsupportedExportPlatform", "ErrorExporterInvalidPlatform"})
RETRIES = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=3)
_http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10.0, read=60.0))


class ExportStep:
    def __init__(self, context: StepContext) -> None:
        self.settings, self.cv, self.state_container = context.settings, context.cv, context.state_container
        self.enqueue = context.enqueue

    def __call__(self, run: Run) -> Step | None:
        record = run.record
        pid, iid = record.project_id, record.published.iteration_id
        if record.export is None:
            try:
                self.cv.export_iteration(pid, iid, PLATFORM, FLAVOR)
            except PermanentError as error:
                if error.service_code != "BadRequestExportAlreadyInProgress":
                    if not self._not_exportable(error, pid):
                        raise
                    record.export = Export(status="NotSupported", platform=PLATFORM, flavor=FLAVOR)
                    return _kept(run, "ExportNotSupported")
            record.export = Export(status="Exporting", platform=PLATFORM, flavor=FLAVOR)
        export = _matching(self.cv.get_exports(pid, iid))
        status = getattr(export, "status", None)
        if status == "Done":
            return self._store(run, export.download_uri)
        if status == "Failed":
            log.warning("run %s: Custom Vision reports the export of %s as failed", run.run_id, iid)
            record.export.status = "Failed"
            return _kept(run, "ExportFailed")
        self.enqueue(run, self.settings.retrain_poll_seconds)  # Exporting (or not listed yet)
        return None

    def _not_exportable(self, error: PermanentError, pid: str) -> bool:
        """The service's code says so, or the project's domain is not exportable (the codes vary)."""
        if error.service_code in NOT_EXPORTABLE:
            return True
        project = self.cv.training(lambda t: t.get_project(pid), "get project")
        domain_id = project.settings.domain_id
        domain = self.cv.training(lambda t: t.get_domain(domain_id), "get domain")
        return not domain.exportable

    def _store(self, run: Run, uri: str | None) -> Step:
        record = run.record
        pid, published = record.project_id, record.published
        data = download(uri)
        try:
            classifier = _checked(data, run.run_id)
        except PermanentError as error:  # ModelRefused with the reason: the zip is not one to use
            log.warning("run %s: the exported zip is refused: %s", run.run_id, error.message)
            record.export.status = "Invalid"
            return _kept(run, error.code, error.message)
        tags = self.cv.training(lambda t: t.get_tags(pid, iteration_id=published.iteration_id), "get tags")
        ids = {tag.name.lower(): tag.id for tag in tags}
        sha1 = zip_sha1(data)
        pointer = ModelPointer(
            model_blob=model_blob_name(published.iteration_id),
            sha1=sha1,
            iteration_id=published.iteration_id,
            project_id=pid,
            published_name=published.published_name,
            labels=[Label(name, ids.get(name.lower())) for name in classifier.info.labels],
            exported_at=utc_now(),
            flavor=FLAVOR,
        )
        store_model(self.state_container, data, pointer)
        record.export.status, record.export.model_blob, record.export.sha1 = "Done", pointer.model_blob, sha1
        log.info("run %s: %s is the current model (%s)", run.run_id, pointer.model_blob, sha1)
        return Step.PRUNE


def _checked(data: bytes, run_id: str) -> Any:
    """The zip as an OnnxClassifier; PermanentError ModelRefused with the reason if it cannot be used."""
    from shared.onnx.model import OnnxClassifier  # onnxruntime: imported only when a model is exported

    try:
        return OnnxClassifier.load(data)
    except PermanentError as error:  # a Model* code: what exactly is wrong with the zip
        reason = error.message
    except Exception:  # MemoryError, onnxruntime's own classes: refused, not retried
        log.exception("run %s: the exported zip could not be loaded", run_id)
        reason = "it could not be loaded; the app's log has the details"
    raise PermanentError("ModelRefused", reason=reason)


def _matching(exports: list[Any]) -> Any | None:
    for export in exports or []:
        if export.platform == PLATFORM and (export.flavor or None) == FLAVOR:
            return export
    return None


def _kept(run: Run, code: str, message: str | None = None) -> Step:
    """The export did not give a model: the run will end as failed with ``code``, after pruning."""
    run.record.error = RunError(code, message or catalogue.text(code))
    return Step.PRUNE


def download(uri: str | None) -> bytes:
    """The zip behind the service's download link: a plain GET without a key, following up to 3 redirects,
    at most MAX_DOWNLOAD_BYTES (see shared.customvision.links)."""
    try:
        return links.get(_http, uri, MAX_DOWNLOAD_BYTES, RETRIES, "the export's download")
    except links.LinkFailed:
        raise TransientError("ModelDownloadFailed", limit=f"{MAX_DOWNLOAD_BYTES // 2**20} MB") from None
