"""The background exporter: one thread writes queued export zips one at a time, so no call waits for it.

It implements ``localvision.state.ports.Exporter``: the state submits (project, iteration, platform,
flavor); when the turn comes the exporter asks the ledger for the job, builds the zip
(``localvision.ml.export``) from the iteration's trained model, writes it beside the iteration's files
and reports back.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Protocol

from localvision.engine import Engine
from localvision.jobs import JobThread
from localvision.persistence import Store
from localvision.state.ports import ExportJob

log = logging.getLogger("localvision")
# What localvision.ml.export writes (a test checks they agree; importing it here would load onnx at start).
FLAVORS: dict[str, tuple[str | None, ...]] = {"ONNX": (None, "ONNX12", "OnnxFloat16")}
_Key = tuple[str, str, str, str | None]


class ExportLedger(Protocol):
    """Where jobs come from and outcomes go (``localvision.state.exports.ExportService``)."""

    def export_job(
        self, project_id: str, iteration_id: str, platform: str, flavor: str | None
    ) -> ExportJob | None: ...

    def finish_export(
        self,
        project_id: str,
        iteration_id: str,
        platform: str,
        flavor: str | None,
        version: str,
        error: str | None,
    ) -> None: ...


@functools.cache
def exporter_version() -> str:
    """A digest of the exporter's code and the feature model: a change makes old exports 'newer available'."""
    from localvision.ml import cache, export, export_graph

    digest = hashlib.sha256(cache.fingerprint().encode())
    for module in (export, export_graph):
        digest.update(Path(module.__file__).read_bytes())
    return f"{export.EXPORTER_VERSION}-{digest.hexdigest()[:16]}"


class BackgroundExporter:
    flavors = FLAVORS

    def __init__(self, ledger: ExportLedger, engine: Engine, store: Store) -> None:
        self._ledger = ledger
        self._engine = engine
        self._store = store
        self._jobs: JobThread[_Key] = JobThread("localvision-export", self._export)

    def version(self) -> str:
        return exporter_version()

    def submit(self, project_id: str, iteration_id: str, platform: str, flavor: str | None) -> None:
        self._jobs.submit((project_id, iteration_id, platform, flavor))

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the export in hand (if any), drop the rest (they start again with the next server)."""
        self._jobs.stop(timeout)

    def _export(self, key: _Key) -> None:
        try:
            error = self._run(*key)
        except Exception:  # keep the worker alive; the export ends Failed
            log.exception("export %s failed unexpectedly", key)
            error = "internal error, see the server log"
        if error is not None:
            log.warning("export %s failed: %s", key, error)
        self._ledger.finish_export(*key, self.version(), error)

    def _run(self, project_id: str, iteration_id: str, platform: str, flavor: str | None) -> str | None:
        """Write the zip; None when done, else why it failed."""
        from localvision.ml.export import ExportError, export_zip

        job = self._ledger.export_job(project_id, iteration_id, platform, flavor)
        if job is None:  # deleted meanwhile, or no longer exporting
            return None
        model_dir = self._store.iteration_dir(project_id, iteration_id)
        try:
            model = self._engine.model(iteration_id, model_dir)
            data = export_zip(
                model, job.labels, iteration_id=iteration_id, flavor=flavor, domain_type=job.domain_type
            )
        except ExportError as failure:
            return str(failure)
        except OSError:  # the iteration's model went away (deleted meanwhile)
            return "the iteration's model could not be read"
        self._store.put_export(project_id, iteration_id, job.file_name, data)
        return None
