"""Shared fixtures: a real Azurite (a process) and a real localvision (served in-process, on a real HTTP
socket) for the session, and the fruit photos by path; all from devstack, the one local-stack package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import azurite as azurite_service
from devstack import localvision as localvision_service
from devstack.photos import fruit_root, missing_reason
from devstack.processes import Child
from devstack.vision import PREDICTION_KEY, TRAINING_KEY

__all__ = ["PREDICTION_KEY", "TRAINING_KEY"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests run first. xdist's ``--dist loadfile --no-loadscope-reorder`` (make test)
    hands out modules in collection order, so a long module collected last would end the run alone on one
    worker while the others idle (xdist's own order, by number of tests, put the console lab near the end)."""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_modules)  # stable: each module keeps its order


@pytest.fixture(scope="session")
def fruit_dir() -> Path:
    reason = missing_reason()
    if reason:  # the photos ship with the project: their absence is a broken checkout, not a skip
        pytest.fail(reason)
    return fruit_root()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    """A real Azurite on free ports for the session; see ``azurite_conn_str`` for its connection string."""
    reason = azurite_service.unavailable()
    if reason:
        pytest.fail(reason)
    service = azurite_service.start(tmp_path_factory.mktemp("azurite"))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def azurite_conn_str(azurite: Child) -> str:
    return azurite_service.connection_string(azurite.ports)


@pytest.fixture(scope="session")
def localvision(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localvision_service.LocalVision]:
    """A real localvision server shared by the session (no tier, no faults)."""
    data = tmp_path_factory.mktemp("localvision") / "data"
    service = localvision_service.start(data, TRAINING_KEY, PREDICTION_KEY, in_process=True)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def localvision_endpoint(localvision: localvision_service.LocalVision) -> str:
    return f"http://127.0.0.1:{localvision.ports['http']}"
