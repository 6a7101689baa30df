"""Custom Vision SDK clients configured for the pipeline, and the project bootstrap (find or create).

Both clients have the SDK's retries off and explicit timeouts; every call goes through
``CustomVision.training`` / ``.prediction``, which apply our retry policy (shared.customvision.retry) and map
errors (shared.errors), and prediction calls also wait for the client-side rate limit.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient

from shared.customvision.credentials import sign_in
from shared.customvision.retry import call_with_retry, limiter_for
from shared.errors import PermanentError, PipelineError, TransientError, from_customvision
from shared.settings.definitions import Settings
from shared.storage import http_options

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECT_TIMEOUT = 10.0
# A quick test whose turn under QUICKTEST_MAX_TPS is further off than this is answered 429 at once.
QUICK_TEST_MAX_WAIT_SECONDS = 2.0


def _configure(
    client: CustomVisionTrainingClient | CustomVisionPredictionClient, timeout: float, endpoint: str
) -> None:
    client.config.retry_policy.retries = 0  # the retry logic is ours (shared.customvision.retry)
    client.config.connection.timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
    # the environment's proxies and CA bundle read once, not on every call (shared.storage.http_options)
    options = http_options(endpoint)
    client.config.proxies.use_env_settings = False
    for scheme, proxy in options.get("proxies", {}).items():
        client.config.proxies.add(scheme, proxy)
    if "connection_verify" in options:
        client.config.connection.verify = options["connection_verify"]


class CustomVision:
    """The training and prediction clients of one configuration, with retries, rate limit and project id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        timeout = settings.customvision_timeout_seconds
        training_credentials, prediction_credentials = sign_in(settings)
        self.trainer = CustomVisionTrainingClient(
            settings.customvision_training_endpoint, training_credentials
        )
        self.predictor = CustomVisionPredictionClient(
            settings.customvision_prediction_endpoint, prediction_credentials
        )
        _configure(self.trainer, timeout, settings.customvision_training_endpoint)
        _configure(self.predictor, timeout, settings.customvision_prediction_endpoint)
        self._limiter = limiter_for("PREDICTION_MAX_TPS", settings.prediction_max_tps)
        self._quick_limiter = limiter_for("QUICKTEST_MAX_TPS", settings.quicktest_max_tps)
        self._project_id: str | None = settings.customvision_project_id
        self._project_lock = threading.Lock()

    def _error_mapper(self, resource: str) -> Callable[[Exception], PipelineError | None]:
        project_id = self.settings.customvision_project_id
        identity = self.settings.customvision_auth == "identity"
        return lambda exc: from_customvision(exc, resource=resource, identity=identity, project_id=project_id)

    def training(self, fn: Callable[[CustomVisionTrainingClient], T], what: str) -> T:
        return call_with_retry(
            lambda: fn(self.trainer),
            self._error_mapper("training"),
            budget_seconds=self.settings.transient_retry_seconds,
            what=what,
        )

    def prediction(
        self, fn: Callable[[CustomVisionPredictionClient], T], what: str, *, quick_test: bool = False
    ) -> T:
        """A prediction call within its budget: the pipeline's (PREDICTION_MAX_TPS: it waits its turn) or the
        quick test's (QUICKTEST_MAX_TPS: QuickTestBusy at once when its turn is further off than a user
        should wait; a retry after a failed call waits its turn)."""
        limiter = self._quick_limiter if quick_test else self._limiter
        has_slot = False
        if quick_test:
            wait = limiter.try_acquire(QUICK_TEST_MAX_WAIT_SECONDS)
            if wait is not None:
                rate = f"{self.settings.quicktest_max_tps:g}"
                raise TransientError("QuickTestBusy", retry_after=wait, rate=rate, seconds=math.ceil(wait))
            has_slot = True

        def limited() -> T:
            nonlocal has_slot
            if not has_slot:
                limiter.acquire()
            has_slot = False
            return fn(self.predictor)

        return call_with_retry(
            limited,
            self._error_mapper("prediction"),
            budget_seconds=self.settings.transient_retry_seconds,
            what=what,
        )

    def project_id(self, *, create: bool = False) -> str:
        """The project: CUSTOMVISION_PROJECT_ID, else found by name (created if ``create``). Cached."""
        with self._project_lock:
            if self._project_id is None:
                self._project_id = self._find_project(create)
            return self._project_id

    def verify_project(self) -> None:
        """Fail with ProjectNotFound naming the setting when CUSTOMVISION_PROJECT_ID names no project."""
        pid = self.project_id(create=False)
        self.training(lambda t: t.get_project(pid), "get project")

    def _find_project(self, create: bool) -> str:
        name = self.settings.customvision_project_name
        for project in self.training(lambda t: t.get_projects(), "list projects"):
            if project.name == name:
                return project.id
        if not create:
            raise PermanentError("ProjectNotFound", setting="CUSTOMVISION_PROJECT_NAME", value=name)
        domain_id = self._domain_id()
        kind = self.settings.customvision_classification_type
        project = self.training(
            lambda t: t.create_project(name, domain_id=domain_id, classification_type=kind), "create project"
        )
        log.info(
            "Created Custom Vision project %r (%s, %s domain)",
            name,
            kind,
            self.settings.customvision_domain,
        )
        return project.id

    def _domain_id(self) -> str:
        wanted = self.settings.customvision_domain
        domains = [
            d for d in self.training(lambda t: t.get_domains(), "list domains") if d.type == "Classification"
        ]
        for domain in domains:
            if domain.name.lower() == wanted.lower():
                return domain.id
        names = ", ".join(sorted(d.name for d in domains))
        raise PermanentError("DomainNotFound", domain=wanted, choices=names)

    # --- export (onnx mode) ---------------------------------------------------------------------------

    def export_iteration(self, project_id: str, iteration_id: str, platform: str, flavor: str | None) -> Any:
        """Ask for an export of the iteration; the SDK's Export (status Exporting, or Done if it exists)."""
        return self.training(
            lambda t: t.export_iteration(project_id, iteration_id, platform, flavor=flavor),
            "export iteration",
        )

    def get_exports(self, project_id: str, iteration_id: str) -> list[Any]:
        """The iteration's exports (one per platform and flavor), each with its status and downloadUri."""
        return self.training(lambda t: t.get_exports(project_id, iteration_id), "get exports")
