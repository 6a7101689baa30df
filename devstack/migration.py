"""``make migrate-demo``: move a project out of "the service" to a self-hosted localvision, end to end.

On a private stack (Azurite, devhost, and one localvision playing Custom Vision): the fruit project trained
in the service with the SDK, as a user did in the portal; the test photos classified through the pipeline;
POST /api/training/import copies the project's tagged images into training/; the app switches to the
self-hosted backend (a second localvision, its state in a blob container, in its container image when
podman can run it); POST /api/retrain trains and publishes there; the same test photos are classified
again. The migration holds when every photo gets the same tags, and each result document names the
endpoint that answered (``model.endpoint``). See docs/migration.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.storage.blob import ContainerClient

from devstack import container as podman
from devstack import localvision as localvision_service
from devstack import photos, vision
from devstack.demo import Demo, say, show_run
from devstack.processes import Child
from devstack.stack import LocalStack

STATE_CONTAINER = "localvision-state"
# The self-hosted backend's own keys (made up, like the private stacks'): the switch changes keys too.
SELFHOSTED_KEYS = {
    "LOCALVISION_TRAINING_KEY": "selfhosted-training-key",
    "LOCALVISION_PREDICTION_KEY": "selfhosted-prediction-key",
}


@dataclass
class Outcome:
    """What the migration did: each test photo's tags and answering endpoint, before and after."""

    service_endpoint: str
    selfhosted_endpoint: str
    before: dict[str, tuple[list[str], str]]  # photo -> (tags, model.endpoint)
    after: dict[str, tuple[list[str], str]]
    imported: dict[str, Any]  # the import run's importCounts
    retrain: dict[str, Any]  # the retrain run on the self-hosted backend
    in_container: bool
    state: list[str]  # the project documents in the self-hosted backend's blob container

    @property
    def same_tags(self) -> bool:
        return {k: v[0] for k, v in self.before.items()} == {k: v[0] for k, v in self.after.items()}


def _results(demo: Demo, test_photos: list[Path]) -> dict[str, tuple[list[str], str]]:
    out = {}
    for photo, document, _ in demo.classify(test_photos):
        if document.get("status") != "ok":
            raise RuntimeError(f"{photo.name} was not classified: {document.get('error')}")
        out[photo.name] = (document["tags"], document["model"].get("endpoint", ""))
    return out


def _start_selfhosted(workdir: Path, conn_str: str, use_container: bool) -> tuple[Any, str, bool]:
    """The self-hosted backend on the blob store: the image when podman can run it, else the process."""
    settings = {
        **SELFHOSTED_KEYS,
        "LOCALVISION_STORE": "blob",
        "LOCALVISION_BLOB_CONTAINER": STATE_CONTAINER,
        "LOCALVISION_BLOB_CONNECTION_STRING": conn_str,
    }
    if use_container and podman.unavailable() is None:
        say("  building (or reusing) the localvision image ...")
        running = podman.run(podman.build(), settings)
        return running, running.endpoint, True
    os.environ.update(settings)  # the child reads its settings from the environment, as the image does
    try:
        child = localvision_service.start(
            workdir / "selfhosted", SELFHOSTED_KEYS["LOCALVISION_TRAINING_KEY"],
            SELFHOSTED_KEYS["LOCALVISION_PREDICTION_KEY"],
        )  # fmt: skip
    finally:
        for name in settings:
            os.environ.pop(name, None)
    return child, f"http://127.0.0.1:{child.ports['http']}", False


def migrate(workdir: Path, use_container: bool = True) -> Outcome:
    root = photos.require()
    test_photos = photos.images(root / "test-images")
    say("== 1. 'The service' (a localvision playing Custom Vision), Azurite and the Function app")
    stack = LocalStack.start(workdir)
    selfhosted = None
    try:
        project = "Classify Fruit"
        say(f"  the project {project!r} trained and published in the service with the SDK ...")
        vision.train_and_publish(stack.endpoint, project, photos.training(root))
        overrides = {"CUSTOMVISION_PROJECT_NAME": project}
        stack.start_devhost(overrides)
        demo = _demo(stack)
        say("\n== 2. The test photos through the pipeline, answered by the service")
        before = _results(demo, test_photos)
        _show(before)

        say("\n== 3. POST /api/training/import: the project's tagged images into training/{tag}/")
        imported = demo.retrain("training/import")
        say(f"  {imported.get('status')}: {imported.get('importCounts')}")

        say(f"\n== 4. The self-hosted backend: localvision, state in blob container {STATE_CONTAINER!r}")
        selfhosted, endpoint, in_container = _start_selfhosted(workdir, stack.conn_str, use_container)
        say(f"  {'container' if in_container else 'process'} at {endpoint}")
        say("  the switch: CUSTOMVISION_{TRAINING,PREDICTION}_{ENDPOINT,KEY} point at it; the app restarts")
        stack.devhost.stop(timeout=60)
        stack.start_devhost(
            {
                **overrides,
                "CUSTOMVISION_TRAINING_ENDPOINT": endpoint,
                "CUSTOMVISION_PREDICTION_ENDPOINT": endpoint,
                "CUSTOMVISION_TRAINING_KEY": SELFHOSTED_KEYS["LOCALVISION_TRAINING_KEY"],
                "CUSTOMVISION_PREDICTION_KEY": SELFHOSTED_KEYS["LOCALVISION_PREDICTION_KEY"],
            }
        )
        demo = _demo(stack)

        say("\n== 5. POST /api/retrain on the self-hosted backend: uploads training/, trains, publishes")
        retrain = demo.retrain()
        show_run(retrain)

        say("\n== 6. The same test photos, answered by the self-hosted backend")
        after = _results(demo, test_photos)
        _show(after)
        state = ContainerClient.from_connection_string(stack.conn_str, STATE_CONTAINER).list_blobs()
        documents = [blob.name for blob in state if blob.name.endswith("/project.json")]
        counts = imported.get("importCounts") or {}
        outcome = Outcome(stack.endpoint, endpoint, before, after, counts, retrain, in_container, documents)
    finally:
        if selfhosted is not None:
            selfhosted.stop()
        stack.stop()
    verdict = "the same tags" if outcome.same_tags else "DIFFERENT tags"
    say(f"\n== {verdict} for every test photo before and after the migration")
    return outcome


def _demo(stack: LocalStack) -> Demo:
    assert isinstance(stack.devhost, Child)
    return Demo({"Values": stack.values, "Host": {"LocalHttpPort": stack.devhost.ports["http"]}})


def _show(results: dict[str, tuple[list[str], str]]) -> None:
    for name, (tags, endpoint) in sorted(results.items()):
        say(f"  {name}: {', '.join(tags) or '(no tag)'}   [model.endpoint {endpoint}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.migration", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-container", action="store_true", help="run the self-hosted localvision as a process"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="migrate-demo-") as workdir:
        outcome = migrate(Path(workdir), use_container=not args.no_container)
    return 0 if outcome.same_tags and outcome.retrain.get("status") == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
