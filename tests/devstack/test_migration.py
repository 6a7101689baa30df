"""The migration path of docs/migration.md, end to end (``make migrate-demo``): a project trained in "the
service" (a localvision playing Custom Vision) -> POST /api/training/import -> the app switched to a
self-hosted localvision on the blob store (its container image where podman runs, else a process) ->
POST /api/retrain -> the same test photos get the same tags, and each document names who answered."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devstack import container as podman
from devstack.migration import migrate
from devstack.photos import TEST_TAGS

pytestmark = pytest.mark.slow


def test_a_project_moves_from_the_service_to_the_self_hosted_backend(tmp_path: Path, fruit_dir: Path):
    outcome = migrate(tmp_path, use_container=True)

    service, selfhosted = (
        urlsplit(outcome.service_endpoint).netloc,
        urlsplit(outcome.selfhosted_endpoint).netloc,
    )
    assert service != selfhosted
    assert outcome.before == {name: ([tag], service) for name, tag in TEST_TAGS.items()}
    assert outcome.after == {name: ([tag], selfhosted) for name, tag in TEST_TAGS.items()}
    assert outcome.imported == {
        "tagged": 45, "copied": 45, "alreadyPresent": 0, "untagged": 0, "failed": 0, "failures": [],
    }  # fmt: skip
    run = outcome.retrain
    assert (run["status"], run["trigger"]) == ("succeeded", "http"), run
    assert (run["sync"]["uploaded"], run["sync"]["listed"]) == (45, 45)
    assert run["published"]["publishedName"] == "fruit-classifier"
    assert len(outcome.state) == 1  # the self-hosted backend keeps its project in the blob container
    assert outcome.in_container == (podman.unavailable() is None)
