"""Fixtures for the localvision tests: SDK clients bound to the session server."""

from __future__ import annotations

import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient

from tests.localvision.helpers import predictor, trainer


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
