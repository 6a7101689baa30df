"""The keys of the private stacks and a model trained and published with the Custom Vision SDK, as a
user would in the portal: the one way the tests and benchmarks get a published model without the pipeline."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials

from devstack.photos import Photo

# Keys of the private stacks (tests, benchmarks): made up, valid only against their own localvision.
TRAINING_KEY = "devstack-training-key"
PREDICTION_KEY = "devstack-prediction-key"
FUNCTION_KEY = "devstack-function-key"
RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
    "Microsoft.CognitiveServices/accounts/localvision-prediction"
)
FOOD_DOMAIN = "c151d5b5-dd07-472a-acc8-15d29dea8518"
PUBLISHED_NAME = "fruit-classifier"
BATCH = 64  # Custom Vision's limit of images per upload call


def keys() -> dict[str, str]:
    """The private stacks' keys as local.settings.json ``Values``."""
    return {
        "CUSTOMVISION_TRAINING_KEY": TRAINING_KEY,
        "CUSTOMVISION_PREDICTION_KEY": PREDICTION_KEY,
        "CUSTOMVISION_PREDICTION_RESOURCE_ID": RESOURCE_ID,
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
    }


def trainer(endpoint: str, key: str = TRAINING_KEY) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(endpoint, ApiKeyCredentials(in_headers={"Training-key": key}))


def predictor(endpoint: str, key: str = PREDICTION_KEY) -> CustomVisionPredictionClient:
    return CustomVisionPredictionClient(endpoint, ApiKeyCredentials(in_headers={"Prediction-key": key}))


@dataclass(frozen=True)
class Trained:
    project_id: str
    iteration_id: str
    seconds: float  # from the train call until the iteration reports Completed
    images: int


def train_and_publish(
    endpoint: str,
    name: str,
    photos: Sequence[Photo],
    published: str = PUBLISHED_NAME,
    *,
    poll: float = 0.1,
    timeout: float = 300.0,
) -> Trained:
    """A Multiclass Food project with ``photos`` (tagged by each photo's tag), trained and published."""
    client = trainer(endpoint)
    project = client.create_project(name, domain_id=FOOD_DOMAIN, classification_type="Multiclass")
    for tag in sorted({p.tag for p in photos if p.tag}):
        tag_id = client.create_tag(project.id, tag).id
        entries = [ImageFileCreateEntry(name=p.file, contents=p.data) for p in photos if p.tag == tag]
        for start in range(0, len(entries), BATCH):
            batch = ImageFileCreateBatch(images=entries[start : start + BATCH], tag_ids=[tag_id])
            summary = client.create_images_from_files(project.id, batch)
            bad = [i.status for i in summary.images if i.status not in ("OK", "OKDuplicate")]
            if bad:
                raise RuntimeError(f"upload of training photos failed: {bad[:5]}")
    started = time.perf_counter()
    iteration = client.train_project(project.id)
    while iteration.status == "Training":
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"training {name!r} did not finish in {timeout:.0f} s")
        time.sleep(poll)
        iteration = client.get_iteration(project.id, iteration.id)
    seconds = time.perf_counter() - started
    if iteration.status != "Completed":
        raise RuntimeError(f"training ended {iteration.status}: {iteration.training_error_details}")
    client.publish_iteration(project.id, iteration.id, published, RESOURCE_ID)
    return Trained(project.id, iteration.id, seconds, len(photos))
