"""Fixtures for the localvision tests: one in-process server per store for the session, SDK clients bound
to it. Every test that uses the server runs twice: on the file store and on the blob store (Azurite).

The server runs in a thread of the test process (a real HTTP socket, ``localvision.server.serve_in_thread``);
tests about the process itself (command line, restart, crash) start their own with ``python -m localvision``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient

from localvision.server import RunningServer, ServerOptions, serve_in_thread
from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.localvision.helpers import predictor, trainer


def blob_options(connection_string: str, container: str) -> ServerOptions:
    """Server options for the blob store on a container of the tests' Azurite."""
    return ServerOptions(store="blob", blob_container=container, blob_connection_string=connection_string)


@pytest.fixture(scope="session", params=["files", "blob"])
def localvision_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    options = ServerOptions()
    if request.param == "blob":  # Azurite starts only when a blob-store test runs
        options = blob_options(request.getfixturevalue("azurite_conn_str"), "localvision-suite")
    data = tmp_path_factory.mktemp(f"localvision-{request.param}") / "data"
    server = serve_in_thread(data, TRAINING_KEY, PREDICTION_KEY, options=options)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def localvision_endpoint(localvision_server: RunningServer) -> str:
    """Overrides the session-wide subprocess server for this folder's tests."""
    return localvision_server.endpoint


@pytest.fixture
def training(localvision_endpoint: str) -> CustomVisionTrainingClient:
    return trainer(localvision_endpoint)


@pytest.fixture
def prediction(localvision_endpoint: str) -> CustomVisionPredictionClient:
    return predictor(localvision_endpoint)


@pytest.fixture
def project(training: CustomVisionTrainingClient):
    """A fresh Multiclass project, deleted afterwards."""
    created = training.create_project("test project", description="made by a test")
    yield created
    if any(existing.id == created.id for existing in training.get_projects()):
        training.delete_project(created.id)
