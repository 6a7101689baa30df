"""The demo's flow with CUSTOMVISION_AUTH=identity: train, publish and classify the three test photos through
the pipeline, with bearer tokens and no Custom Vision key anywhere.

Entra ID cannot run here. A keyless private stack (devstack.stack, ``keyless=True``) stands in for it with
a local managed identity endpoint (devstack.identity): devhost's settings hold no key, the pipeline's own
DefaultAzureCredential gets its tokens from that endpoint over the App Service protocol, and localvision
trusts the endpoint's issuer while its own keys are known to nobody.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devstack import photos
from devstack.demo import Demo
from devstack.identity import AUDIENCE
from devstack.photos import TEST_TAGS
from devstack.stack import LocalStack

CLIENT_ID = "9d4c1f0e-6b7a-4e25-8c3d-2a1b0f9e8d7c"  # the app's user-assigned identity in this test


@pytest.mark.slow
def test_the_demo_trains_publishes_and_classifies_with_bearer_tokens_only(fruit_dir: Path, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="localvision.auth")
    stack = LocalStack.start(tmp_path, in_process=True, keyless=True)
    try:
        stack.start_devhost({"AZURE_CLIENT_ID": CLIENT_ID, "RETRAIN_POLL_SECONDS": "1"})
        assert stack.values["CUSTOMVISION_AUTH"] == "identity"
        assert not [
            name for name in stack.values if name.startswith("CUSTOMVISION_") and name.endswith("_KEY")
        ]
        assert stack.devhost is not None
        demo = Demo({"Values": stack.values, "Host": {"LocalHttpPort": stack.devhost.ports["http"]}})

        uploaded, present = demo.upload_training(fruit_dir / "training-images")
        assert (uploaded, present) == (45, 0)
        run = demo.retrain()
        assert run["status"] == "succeeded", run
        assert run["published"] and run["metrics"]["precision"] > 0.8

        results = demo.classify(photos.images(fruit_dir / "test-images"))
        tags = {photo.name: document["predictions"][0]["tagName"] for photo, document, _ in results}
        assert tags == TEST_TAGS, [document for _, document, _ in results]
        assert all(document["status"] == "ok" for _, document, _ in results)
        assert stack.identity is not None
        requests = list(stack.identity.requests)
    finally:
        stack.stop()

    # localvision saw bearer tokens only: every training and prediction call was signed with one ...
    lines = [record.getMessage() for record in caplog.records if record.name == "localvision.auth"]
    surfaces = {line.split()[0] for line in lines}
    assert surfaces == {"training", "prediction"}
    assert all(line.endswith(f"signed with a bearer token (appid {CLIENT_ID})") for line in lines), lines[:5]
    # ... which DefaultAzureCredential took from the managed identity endpoint for the configured identity
    assert requests and {(r.resource, r.client_id) for r in requests} == {(AUDIENCE, CLIENT_ID)}
