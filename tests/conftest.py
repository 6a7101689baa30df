"""Shared fixtures: real Azurite and a real localvision as processes, the fruit photos by path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import (
    PROJECT_ROOT,
    Service,
    azurite_available,
    azurite_connection_string,
    start_azurite,
    start_localvision,
)

DEFAULT_FRUIT = PROJECT_ROOT.parent / "shared" / "data" / "fruit"
TRAINING_KEY = "test-training-key"
PREDICTION_KEY = "test-prediction-key"


def fruit_root() -> Path:
    """The fruit photos: $DEMO_IMAGES, default ../shared/data/fruit."""
    return Path(os.environ.get("DEMO_IMAGES", DEFAULT_FRUIT))


@pytest.fixture(scope="session")
def fruit_dir() -> Path:
    root = fruit_root()
    if not (root / "training-images").is_dir():
        pytest.skip(
            f"fruit photos not found at {root}: set DEMO_IMAGES to a folder with training-images/, "
            "more-training-images/ and test-images/ (Microsoft Learn's fruit exercise)"
        )
    return root


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A real Azurite on free ports for the session; see ``azurite_conn_str`` for its connection string."""
    reason = azurite_available()
    if reason:
        pytest.fail(reason)
    service = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def azurite_conn_str(azurite: Service) -> str:
    return azurite_connection_string(azurite.ports["blob"], azurite.ports["queue"])


@pytest.fixture(scope="session")
def localvision(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A real localvision server shared by the session (no tier, no faults)."""
    service = start_localvision(tmp_path_factory.mktemp("localvision") / "data", TRAINING_KEY, PREDICTION_KEY)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def localvision_endpoint(localvision: Service) -> str:
    return f"http://127.0.0.1:{localvision.ports['http']}"
