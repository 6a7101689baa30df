"""The pipeline as the triggers see it: one object per app, built from validated settings.

Clients are created on first use, so importing the app (and validating its settings) needs no network;
the app holds one Pipeline, so its clients, rate limit and project id are shared by every invocation.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared import api, telemetry
from shared.classify.classifier import Classifier
from shared.console import ConsoleApi
from shared.customvision.clients import CustomVision
from shared.retrain.cycle import Retrainer
from shared.settings.definitions import Settings, load_settings
from shared.storage import Storage, connect

if TYPE_CHECKING:
    from shared.onnx.store import ModelStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._parts: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _once(self, name: str, make: Callable[[], T]) -> T:
        """One instance per Pipeline, even when invocations on several threads ask at once."""
        with self._lock:
            if name not in self._parts:
                self._parts[name] = make()
            return self._parts[name]

    @classmethod
    def from_environment(cls) -> Pipeline:
        """Validate every setting now: a wrong or missing one raises SettingsError naming it."""
        settings = load_settings()
        log.info("pipeline settings: %s", settings.redacted())
        telemetry.configure(settings)
        return cls(settings)

    @property
    def storage(self) -> Storage:
        return self._once("storage", lambda: connect(self.settings))

    @property
    def customvision(self) -> CustomVision:
        return self._once("customvision", lambda: CustomVision(self.settings))

    @property
    def model_store(self) -> ModelStore | None:
        """Onnx mode: the instance's current model (loaded once, swapped when current.json changes)."""
        if self.settings.classifier_mode != "onnx":
            return None
        from shared.onnx.store import ModelStore  # onnxruntime and numpy: imported in onnx mode only

        container = self.storage.container(self.settings.pipeline_container)
        return self._once("model_store", lambda: ModelStore(self.settings, container))

    @property
    def classifier(self) -> Classifier:
        return self._once(
            "classifier",
            lambda: Classifier(self.settings, self.storage, self.customvision, self.model_store),
        )

    @property
    def retrainer(self) -> Retrainer:
        return self._once("retrainer", lambda: Retrainer(self.settings, self.storage, self.customvision))

    @property
    def console(self) -> ConsoleApi:
        return self._once(
            "console",
            lambda: ConsoleApi(self.settings, self.storage, self.customvision, lambda: self.retrainer),
        )

    # --- one method per trigger ---------------------------------------------------------------------

    def classify_blob(
        self,
        trigger_name: str,
        data: bytes,
        etag: str | None,
        size: int | None,
        last_modified: Any = None,
    ) -> dict | None:
        """The blob trigger. ``etag``/``size``/``last_modified`` from the trigger's blob properties."""
        name = self.classifier.blob_name(trigger_name)
        blob = self.classifier.reference(name, etag, size if size is not None else len(data), last_modified)
        if blob is None:
            log.info("images/%s is gone: nothing to classify", name)
            return None
        return self.classifier.classify_blob(blob, data)

    def classify_poisoned(self, body: str) -> dict | None:
        """The poison-queue trigger: the host gave up on a blob."""
        message = _message(body, "blob poison")
        return self.classifier.record_poisoned(message) if message is not None else None

    def quick_test(self, body: bytes, content_type: str) -> api.Reply:
        return api.quick_test(self.classifier, self.settings, body, content_type)

    def retrain_start(self, request_url: str) -> api.Reply:
        return api.retrain_start(self.retrainer, request_url)

    def training_import(self, request_url: str) -> api.Reply:
        return api.import_start(self.retrainer, request_url)

    def retrain_runs(self) -> api.Reply:
        return api.retrain_runs(self.retrainer)

    def retrain_status(self, run_id: str) -> api.Reply:
        return api.retrain_status(self.retrainer, run_id)

    def retrain_scheduled(self) -> None:
        self.retrainer.scheduled()

    def retrain_step(self, body: str) -> None:
        """The retrain queue trigger: advance the run the message names."""
        message = _message(body, "retrain")
        if message is not None:
            self.retrainer.handle(message)

    def retrain_poisoned(self, body: str) -> None:
        """The retrain poison-queue trigger: the host gave up on a step; its run ends as failed."""
        message = _message(body, "retrain poison")
        if message is not None:
            self.retrainer.poisoned(message)


def _message(body: str, what: str) -> dict[str, Any] | None:
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        log.warning("%s message is not JSON, ignored: %.200r", what, body)
        return None
    return message if isinstance(message, dict) else None
