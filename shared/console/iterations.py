"""Iterations by hand, as in the Custom Vision portal: publish, unpublish and delete one, download its
ONNX export, quick-test an image against it. The gate stays the default path; a publish, unpublish
or delete by hand is logged (who asked is the holder of the function key) and leaves a run record of
trigger ``console`` (the Runs history shows it); the next retrain's gate compares with whatever is
published then.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

from shared.console.http import (
    BadRequest,
    CatalogueRefusal,
    Conflict,
    ConsoleResponse,
    json_reply,
    respond,
)
from shared.customvision.clients import CustomVision
from shared.errors import PermanentError
from shared.imaging import PREDICTION_MAX_BYTES, normalise
from shared.retrain.cycle import Retrainer
from shared.retrain.export import FLAVOR, NOT_EXPORTABLE, PLATFORM, download
from shared.retrain.manual import recorded
from shared.settings.definitions import Settings

log = logging.getLogger(__name__)
IGNORED_ON_UNPUBLISH = ("BadRequestIterationNotPublished", "NotFoundIteration")


class Iterations:
    def __init__(self, cv: CustomVision, settings: Settings, retrainer: Callable[[], Retrainer]) -> None:
        self.cv = cv
        self.settings = settings
        self.retrainer = retrainer  # its run store keeps the record of each action by hand

    def check(self, iteration_id: str) -> tuple[str, Any]:
        if not iteration_id or len(iteration_id) > 100:
            raise BadRequest("MissingField", field="iteration")
        pid = self.cv.project_id(create=False)
        return pid, self.cv.training(lambda t: t.get_iteration(pid, iteration_id), "get iteration")

    def publish(self, iteration_id: str) -> dict[str, Any]:
        """Publish under PUBLISHED_NAME (what the pipeline classifies with); the one published there
        before is unpublished."""
        pid, iteration = self.check(iteration_id)
        name = self.settings.published_name
        before = [
            i
            for i in self.cv.training(lambda t: t.get_iterations(pid), "list iterations")
            if i.publish_name == name and i.id != iteration.id
        ]
        resource = self.settings.customvision_prediction_resource_id
        with recorded(self.retrainer().store, "publish", iteration) as record:
            for old in before:
                self._unpublish(pid, old.id)
            self.cv.training(lambda t: t.publish_iteration(pid, iteration.id, name, resource), "publish")
            record.published(iteration.id, name, before[0].id if before else None)
            replaced = ", ".join(i.name for i in before)
            record.note(
                f"{iteration.name} published by hand as {name}"
                + (f", replacing {replaced}" if replaced else "")
            )
        log.warning(
            "console: iteration %s (%s) published by hand as %s, replacing %s",
            iteration.name,
            iteration.id,
            name,
            ", ".join(i.name for i in before) or "none",
        )
        return {"published": {"id": iteration.id, "name": iteration.name, "publishedName": name},
                "replaced": [{"id": i.id, "name": i.name} for i in before]}  # fmt: skip

    def unpublish(self, iteration_id: str) -> dict[str, Any]:
        pid, iteration = self.check(iteration_id)
        with recorded(self.retrainer().store, "unpublish", iteration) as record:
            self._unpublish(pid, iteration.id)
            record.note(f"{iteration.name} unpublished by hand")
        log.warning("console: iteration %s (%s) unpublished by hand", iteration.name, iteration.id)
        return {"unpublished": {"id": iteration.id, "name": iteration.name}}

    def _unpublish(self, pid: str, iid: str) -> None:
        try:
            self.cv.training(lambda t: t.unpublish_iteration(pid, iid), "unpublish")
        except PermanentError as error:
            if error.service_code not in IGNORED_ON_UNPUBLISH:
                raise

    def delete(self, iteration_id: str) -> dict[str, Any]:
        pid, iteration = self.check(iteration_id)
        if iteration.publish_name:  # refused before anything is done: no run record
            raise BadRequest("IterationPublished", name=iteration.name)
        with recorded(self.retrainer().store, "delete", iteration) as record:
            self.cv.training(lambda t: t.delete_iteration(pid, iteration.id), "delete iteration")
            record.note(f"{iteration.name} deleted by hand")
        log.warning("console: iteration %s (%s) deleted by hand", iteration.name, iteration.id)
        return {"deleted": {"id": iteration.id, "name": iteration.name}}

    def export(self, iteration_id: str) -> ConsoleResponse:
        """The ONNX zip when the export is done (200), else the export is started and 202 says so."""
        pid, iteration = self.check(iteration_id)
        found = [
            e for e in self.cv.get_exports(pid, iteration.id)
            if e.platform == PLATFORM and (e.flavor or None) == FLAVOR
        ]  # fmt: skip
        status = found[0].status if found else None
        if status == "Done":
            data = download(found[0].download_uri)
            file = f"{iteration.name.replace(' ', '-')}-onnx.zip"
            headers = {"Content-Disposition": f'attachment; filename="{file}"', "Cache-Control": "no-store"}
            return respond(200, data, "application/zip", headers)
        if status in (None, "Failed"):
            try:
                self.cv.export_iteration(pid, iteration.id, PLATFORM, FLAVOR)
            except PermanentError as error:
                if error.service_code in NOT_EXPORTABLE:
                    raise Conflict("IterationNotExportable", name=iteration.name) from None
                if error.service_code != "BadRequestExportAlreadyInProgress":
                    raise
        return json_reply({"status": "Exporting", "iteration": iteration.name}, 202)

    def quick_test(self, iteration_id: str, data: bytes) -> dict[str, Any]:
        """Predictions of one iteration (published or not) for an image; the image is not kept by the
        pipeline."""
        pid, iteration = self.check(iteration_id)
        try:
            image = normalise(data, PREDICTION_MAX_BYTES)
        except PermanentError as error:
            raise CatalogueRefusal(error) from None
        result = self.cv.training(
            lambda t: t.quick_test_image(pid, io.BytesIO(image.data), iteration_id=iteration.id), "quick test"
        )
        predictions = sorted(result.predictions or [], key=lambda p: -p.probability)
        return {
            "iteration": {"id": iteration.id, "name": iteration.name},
            "predictions": [{"tagName": p.tag_name, "probability": p.probability} for p in predictions],
        }
