"""localvision's URL operations with the generated hostile URLs: always the service's 400
``BadRequestImageUrl``, never a 500 (a real localvision over HTTP)."""

from __future__ import annotations

import requests

from tests.conftest import TRAINING_KEY
from tests.hostile_urls import hostile_urls
from tests.localvision.helpers import trainer


def test_no_generated_hostile_url_gets_a_500_from_the_url_operations(localvision_endpoint):
    project = trainer(localvision_endpoint).create_project("Hostile URLs")
    base = f"{localvision_endpoint}/customvision/v3.3/training/projects/{project.id}"
    session = requests.Session()
    session.headers["Training-Key"] = TRAINING_KEY
    outcomes: dict[str, tuple[int, str]] = {}
    for url in hostile_urls():
        response = session.post(f"{base}/quicktest/url", json={"url": url}, timeout=30)
        body = response.json()
        outcomes[url] = (response.status_code, body.get("code", ""))
        assert "Traceback" not in body.get("message", "") and "Error:" not in body.get("message", ""), url

    bad = {url: got for url, got in outcomes.items() if got != (400, "BadRequestImageUrl")}
    assert not bad, bad


def test_a_batch_of_hostile_urls_is_answered_per_image(localvision_endpoint):
    project = trainer(localvision_endpoint).create_project("Hostile URL batch")
    urls = ["http://" + "a" * 64 + ".com/x.jpg", "http://a..b/", "http://[::1", "http://[64:ff9b::7f00:1]/x"]
    response = requests.post(
        f"{localvision_endpoint}/customvision/v3.3/training/projects/{project.id}/images/urls",
        json={"images": [{"url": url} for url in urls]},
        headers={"Training-Key": TRAINING_KEY},
        timeout=30,
    )

    assert response.status_code == 207, response.text  # the service's Multi-Status for a partial batch
    summary = response.json()
    assert summary["isBatchSuccessful"] is False
    assert [image["sourceUrl"] for image in summary["images"]] == urls
    assert [image["status"] for image in summary["images"]] == ["ErrorSource"] * len(urls)
