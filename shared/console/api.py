"""The console's JSON API (GET/POST /api/console-api/{path}, function key): one route table, and every
failure answered with a catalogue message (never a traceback; the log has the details)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared.console import compare, results, review, training, upload
from shared.console.areas import Areas
from shared.console.catalogue import message_for
from shared.console.http import (
    ConsoleError,
    ConsoleRequest,
    ConsoleResponse,
    error_reply,
    json_reply,
)
from shared.console.iterations import Iterations
from shared.console.project import Project
from shared.console.thumbnails import thumbnail
from shared.customvision.clients import CustomVision
from shared.errors import PipelineError, TransientError
from shared.retrain.cycle import Retrainer
from shared.settings.definitions import Settings
from shared.storage import Storage

log = logging.getLogger(__name__)
Handler = Callable[[ConsoleRequest], Any]


class ConsoleApi:
    def __init__(
        self, settings: Settings, storage: Storage, cv: CustomVision, retrainer: Callable[[], Retrainer]
    ) -> None:
        self.settings = settings
        self.areas = Areas(settings, storage)
        self.project = Project(cv, settings.prediction_threshold, settings.negative_folder)
        self.iterations = Iterations(cv, settings, retrainer)
        self._retrainer = retrainer

    @cached_property
    def routes(self) -> dict[tuple[str, str], Handler]:
        areas = self.areas
        negative = self.settings.negative_folder
        return {
            ("GET", "config"): lambda r: self.config(),
            ("GET", "results"): lambda r: results.page(areas.containers["results"], r.params),
            ("GET", "result"): lambda r: results.detail(
                areas.containers["results"], r.params.get("name", "")
            ),
            ("POST", "result/label"): lambda r: review.label_result(
                areas, r.text("name"), r.text("tag"), self.project.tag_folders()
            ),
            ("GET", "thumb"): lambda r: thumbnail(
                areas,
                r.params.get("area", ""),
                r.params.get("name", ""),
                r.params.get("size", "small"),
                r.header("if-none-match"),
            ),
            ("GET", "review"): lambda r: review.queue(areas, r.params),
            ("POST", "review/assign"): lambda r: review.assign(
                areas, r.text("name"), r.text("tag"), self.project.tag_folders()
            ),
            ("POST", "review/discard"): lambda r: review.discard(areas, r.text("name")),
            ("POST", "undo"): lambda r: review.undo(areas, r.json().get("undo")),
            ("GET", "training"): lambda r: training.overview(areas),
            ("GET", "training/tag"): lambda r: training.tag_page(areas, r.params),
            ("POST", "training/move"): lambda r: training.move(
                areas, r.text("name"), r.text("tag"), self.folders()
            ),
            ("POST", "training/upload"): lambda r: upload.upload(areas, r.params, r.body, negative),
            ("GET", "training/duplicates"): lambda r: upload.duplicates(areas),
            ("POST", "training/delete"): lambda r: training.delete(areas, r.text("name")),
            ("GET", "runs"): lambda r: self.runs(r.params),
            ("POST", "iteration/publish"): lambda r: self.iterations.publish(r.text("iteration")),
            ("POST", "iteration/unpublish"): lambda r: self.iterations.unpublish(r.text("iteration")),
            ("POST", "iteration/delete"): lambda r: self.iterations.delete(r.text("iteration")),
            ("GET", "iteration/compare"): lambda r: compare.changed_images(
                self.iterations.cv,
                self.iterations.check,
                lambda: self._retrainer().training_names(),
                r.params.get("a", ""),
                r.params.get("b", ""),
            ),
            ("GET", "iteration/export"): lambda r: self.iterations.export(r.params.get("iteration", "")),
            ("POST", "iteration/quick"): lambda r: self.iterations.quick_test(
                r.params.get("iteration", ""), r.body
            ),
        }

    def folders(self) -> set[str]:
        """Where training images may go: the project's tags, the Negative folder, and the training
        folders made by uploads that no retrain has turned into tags yet."""
        made = {folder["tag"] for folder in training.overview(self.areas)["tags"]}
        try:
            return self.project.tag_folders() | made
        except PipelineError:  # no project yet: the folders are the tags to be
            return made | {self.settings.negative_folder}

    def handle(self, request: ConsoleRequest) -> ConsoleResponse:
        path = request.path.strip("/")
        handler = self.routes.get((request.method.upper(), path))
        if handler is None:
            return error_reply(
                404, "UnknownRoute", message_for("UnknownRoute", method=request.method, path=path[:100])
            )
        try:
            answer = handler(request)
            return answer if isinstance(answer, ConsoleResponse) else json_reply(answer)
        except ConsoleError as error:
            return error_reply(error.status, error.code, error.message)
        except TransientError as error:
            log.warning("console %s %s: %s %s", request.method, path, error.code, error.message)
            return error_reply(503, "CustomVisionUnavailable", message_for("CustomVisionUnavailable"))
        except PipelineError as error:
            return error_reply(409 if error.code == "ProjectNotFound" else 502, error.code, error.message)
        except AzureError:
            log.exception("console %s %s: storage call failed", request.method, path)
            return error_reply(503, "StorageUnavailable", message_for("StorageUnavailable"))
        except Exception:
            log.exception("console %s %s failed", request.method, path)
            return error_reply(500, "ConsoleFailed", message_for("ConsoleFailed"))

    def config(self) -> dict[str, Any]:
        """What the page needs first: the tags (review keys 1..9 in this order) and the thresholds."""
        try:
            tags, problem = self.project.tags(), None
        except PipelineError as error:
            tags, problem = [], {"code": error.code, "message": error.message}
        return {
            "tags": tags,
            "negativeFolder": self.settings.negative_folder,
            "predictionThreshold": self.settings.prediction_threshold,
            "reviewThreshold": self.settings.review_threshold,
            "publishedName": self.settings.published_name,
            "classificationType": self.settings.customvision_classification_type,
            "projectProblem": problem,
        }

    def runs(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The latest run records and every iteration of the project with its metrics at ``threshold``
        (default PREDICTION_THRESHOLD)."""
        threshold = results.probability(params, "threshold", self.settings.prediction_threshold)
        try:
            runs = [run.as_json() for run in self._retrainer().latest()]
        except ResourceNotFoundError:
            runs = []
        try:
            iterations, problem = self.project.iterations(threshold), None
        except PipelineError as error:
            iterations, problem = [], {"code": error.code, "message": error.message}
        return {
            "runs": runs,
            "iterations": iterations,
            "threshold": threshold,
            "projectProblem": problem,
        }
