"""The whole local stack for robustness tests: a private Azurite, localvision (optionally with --faults;
served in-process) and devhost (a process) running the real function_app.py, with a published fruit model
trained once per stack."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContainerClient

from devstack import photos, vision
from devstack.stack import LocalStack
from devstack.vision import FUNCTION_KEY, PUBLISHED_NAME
from tests.pipeline.contract_checks import check_document, check_reply
from tests.support.waiting import wait_until

PROJECT_NAME = "Classify Fruit"
# Short timings keep the suite fast: retries inside an invocation give up after 2 s, polls every 1 s.
FAST_SETTINGS = {
    "CUSTOMVISION_PROJECT_NAME": PROJECT_NAME,
    "PUBLISHED_NAME": PUBLISHED_NAME,
    "TRANSIENT_RETRY_SECONDS": "2",
    "RETRAIN_POLL_SECONDS": "1",
    "CUSTOMVISION_TIMEOUT_SECONDS": "5",
    "QUICKTEST_MAX_BYTES": str(5 * 1024 * 1024),
    "QUICKTEST_URL_TIMEOUT_SECONDS": "3",
}


@dataclass
class Stack:
    """A running stack and the helpers the tests use on it."""

    stack: LocalStack
    project_id: str
    fruit: Path

    @property
    def blobs(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.stack.conn_str)

    def container(self, setting: str) -> ContainerClient:
        client = self.blobs.get_container_client(self.stack.values[setting])
        if not client.exists():
            with contextlib.suppress(ResourceExistsError):  # the app may create it at the same moment
                client.create_container()
        return client

    @property
    def images(self) -> ContainerClient:
        return self.container("IMAGES_CONTAINER")

    @property
    def results(self) -> ContainerClient:
        return self.container("RESULTS_CONTAINER")

    def document_names(self) -> list[str]:
        return [b.name for b in self.results.list_blobs()]

    def document(self, image_name: str) -> dict[str, Any]:
        return check_document(json.loads(self.results.download_blob(f"{image_name}.json").readall()))

    def wait_for_documents(self, names: list[str], timeout: float = 180.0) -> dict[str, dict[str, Any]]:
        wanted = {f"{n}.json" for n in names}
        wait_until(
            lambda: wanted <= set(self.document_names()),
            timeout,
            f"result documents for {len(wanted)} images",
            every=0.5,
        )
        return {n: self.document(n) for n in names}

    def http(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        key: str | None = FUNCTION_KEY,
    ) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers with lowercase names) of one request to devhost."""
        all_headers = {**({"x-functions-key": key} if key else {}), **(headers or {})}
        request = urllib.request.Request(
            f"{self.stack.devhost_url}/{path.lstrip('/')}", data=body, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = response.status, response.read(), _lower(response.headers)
        except urllib.error.HTTPError as error:
            answer = error.code, error.read(), _lower(error.headers)
        if answer[2].get("content-type", "").startswith("application/json"):
            check_reply(json.loads(answer[1]))  # every JSON answer keeps the published contracts
        return answer

    def devhost_log(self) -> str:
        assert self.stack.devhost is not None
        return self.stack.devhost.log.read_text(errors="replace")


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def fruit_photos() -> Path:
    reason = photos.missing_reason()
    if reason:  # the photos ship with the project: their absence is a broken checkout, not a skip
        pytest.fail(reason)
    return photos.fruit_root()


def start_stack(
    workdir: Path, localvision_args: tuple[str, ...] = (), settings: dict[str, str] | None = None
) -> Stack:
    """Azurite + localvision + devhost; the fruit model trained with the SDK and published."""
    fruit = fruit_photos()
    stack = LocalStack.start(workdir, *localvision_args, in_process=True)
    try:
        trained = vision.train_and_publish(
            stack.endpoint, PROJECT_NAME, photos.training(fruit), PUBLISHED_NAME
        )
        stack.start_devhost({**FAST_SETTINGS, **(settings or {})})
    except Exception:
        stack.stop()
        raise
    return Stack(stack, trained.project_id, fruit)


@pytest.fixture(scope="module")
def make_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """Factory for stacks that live as long as the test module; all are stopped at its end."""
    started: list[Stack] = []

    def make(localvision_args: tuple[str, ...] = (), settings: dict[str, str] | None = None) -> Stack:
        s = start_stack(tmp_path_factory.mktemp("stack"), localvision_args, settings)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stack.stop()
