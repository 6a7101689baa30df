"""Import (data out) against real Azurite and a real localvision: a project filled through the SDK (not
through the pipeline) -> POST /api/training/import -> queue -> retrain_worker (played by run_worker) ->
training/{tag}/{imageId}.{ext} holds the project's tagged images, and the mirror sees them as its own."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
import requests
import urllib3
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)

from devstack import devhost as devhost_service
from devstack.paths import PROJECT_ROOT
from devstack.processes import Child, answers_tcp, free_port, spawn, wait_ready
from shared import catalogue
from shared.mirror.manifest import Manifest
from shared.retrain import importer
from tests.pipeline.conftest import (
    FOOD_DOMAIN,
    base_settings,
    containers,
    http_request,
    response_json,
    run_worker,
    trainer,
    unique,
)
from tests.pipeline.contract_checks import check_run
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
UNTAGGED = ("IMG_TEST_1.jpg", "IMG_TEST_2.jpg")
FUNCTION_KEY = "import-test-function-key"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fill_project(endpoint: str, name: str, fruit_dir: Path, kind: str = "Multiclass") -> tuple[str, Counter]:
    """The fruit training photos tagged, plus two untagged photos, uploaded straight through the SDK;
    returns the project id and the multiset of (tag, sha256) of the tagged photos."""
    client = trainer(endpoint)
    project = client.create_project(name, domain_id=FOOD_DOMAIN, classification_type=kind)
    expected: Counter = Counter()
    for tag_dir in sorted((fruit_dir / "training-images").iterdir()):
        tag = client.create_tag(project.id, tag_dir.name)
        paths = sorted(tag_dir.glob("*.jpg"))
        entries = [ImageFileCreateEntry(name=p.name, contents=p.read_bytes()) for p in paths]
        client.create_images_from_files(project.id, ImageFileCreateBatch(images=entries, tag_ids=[tag.id]))
        expected.update((tag_dir.name, sha256(p.read_bytes())) for p in paths)
    untagged = [
        ImageFileCreateEntry(name=f, contents=(fruit_dir / "test-images" / f).read_bytes()) for f in UNTAGGED
    ]
    client.create_images_from_files(project.id, ImageFileCreateBatch(images=untagged))
    return project.id, expected


def start_import(app) -> tuple[int, dict]:
    response = app.training_import(http_request("POST", "training/import"))
    return response.status_code, response_json(response)


def start_retrain(app) -> tuple[int, dict]:
    response = app.retrain(http_request("POST", "retrain"))
    return response.status_code, response_json(response)


def status(app, run_id: str) -> dict:
    response = app.retrain_status(http_request("GET", f"retrain/{run_id}", route_params={"runId": run_id}))
    assert response.status_code == 200
    return check_import(response_json(response))


def check_import(record: dict) -> dict:
    """The contract checks of every run record, and the import's failures come from the catalogue."""
    check_run(record)
    for failure in (record.get("importCounts") or {}).get("failures", []):
        assert catalogue.matches(failure["code"], failure["message"]), failure
    return record


def finished(app, run_id: str):
    return lambda: status(app, run_id)["status"] in ("succeeded", "rejected", "skipped", "failed")


def run_to_end(app, conn_str: str, settings: dict, run_id: str) -> tuple[dict, int]:
    invocations = run_worker(app, conn_str, settings["RETRAIN_QUEUE"], finished(app, run_id))
    return status(app, run_id), invocations


def training_blobs(container) -> dict[str, tuple[str, str]]:
    """name -> (sha256 of the downloaded bytes, etag)."""
    return {
        b.name: (sha256(container.download_blob(b.name).readall()), b.etag) for b in container.list_blobs()
    }


def test_import_copies_the_tagged_images_by_tag_and_the_next_retrain_uploads_nothing(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(importer, "PAGE_SIZE", 16)  # 45 images: three pages, one invocation each
    monkeypatch.setattr(importer, "PAGES_PER_INVOCATION", 1)
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("im"))
    project_id, expected = fill_project(
        localvision_endpoint, settings["CUSTOMVISION_PROJECT_NAME"], fruit_dir
    )
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)

    code, body = start_import(app)
    assert code == 202, body
    assert body["started"] is True and body["trigger"] == "import"
    assert body["statusUrl"] == f"http://localhost:7071/api/retrain/{body['runId']}"
    run, invocations = run_to_end(app, azurite_conn_str, settings, body["runId"])

    assert run["status"] == "succeeded", run
    assert run["trigger"] == "import" and run["step"] == "done" and run["error"] is None
    assert run["projectId"] == project_id
    assert run["importCounts"] == {
        "tagged": 45, "copied": 45, "alreadyPresent": 0, "untagged": 2, "failed": 0, "failures": [],
    }  # fmt: skip
    assert invocations == 3  # bounded work per message: one page of 16 each, continued by re-enqueueing
    assert set(run["timings"]) == {"import"} and run["iteration"] is None and run["sync"]["listed"] == 0

    # training/ holds the same bytes by tag, each named after the image it came from
    blobs = training_blobs(stores["training"])
    client = trainer(localvision_endpoint)
    tagged = {i.id: i.tags[0].tag_name for i in client.get_tagged_images(project_id, take=256)}
    assert sorted(blobs) == sorted(f"{tag}/{image_id}.jpg" for image_id, tag in tagged.items())
    assert Counter((name.split("/")[0], digest) for name, (digest, _) in blobs.items()) == expected
    # the untagged photos were counted and left: in the project, not in the container
    untagged = client.get_untagged_images(project_id)
    assert len(untagged) == 2 and not any(i.id in name for i in untagged for name in blobs)
    assert client.get_image_count(project_id) == 47

    # a second import copies nothing and rewrites nothing
    code, body = start_import(app)
    assert code == 202
    second, _ = run_to_end(app, azurite_conn_str, settings, body["runId"])
    assert second["status"] == "succeeded"
    assert second["importCounts"] == {
        "tagged": 45, "copied": 0, "alreadyPresent": 45, "untagged": 2, "failed": 0, "failures": [],
    }  # fmt: skip
    assert training_blobs(stores["training"]) == blobs

    # the retrain right after: the mirror sees every blob as an image it owns, unchanged; it uploads
    # nothing. The project was never trained, so the cycle trains (on the images already there).
    code, body = start_retrain(app)
    assert code == 202
    retrain, _ = run_to_end(app, azurite_conn_str, settings, body["runId"])
    sync = retrain["sync"]
    assert (sync["listed"], sync["unchanged"], sync["uploaded"]) == (45, 45, 0), sync
    assert (sync["duplicates"], sync["retagged"], sync["deleted"], sync["failed"]) == (0, 0, 0, 0), sync
    assert sync["tagsCreated"] == []
    assert retrain["status"] == "succeeded", retrain
    assert retrain["iteration"]["status"] == "Completed"
    assert client.get_image_count(project_id) == 47  # nothing uploaded, nothing deleted

    # and the mirror now owns the imported images: a move retags the same image in place
    moved_from = next(name for name in blobs if name.startswith("apple/"))
    image_id = moved_from.split("/")[1].removesuffix(".jpg")
    source = stores["training"].get_blob_client(moved_from)
    stores["training"].upload_blob(f"banana/{image_id}.jpg", source.download_blob().readall())
    source.delete_blob()
    code, body = start_retrain(app)
    moved, _ = run_to_end(app, azurite_conn_str, settings, body["runId"])
    assert (moved["sync"]["retagged"], moved["sync"]["uploaded"]) == (1, 0), moved["sync"]
    assert [t.tag_name for t in client.get_images_by_ids(project_id, image_ids=[image_id])[0].tags] == [
        "banana"
    ]


def test_negative_multi_tagged_unusable_tags_and_names_already_taken(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir: Path
):
    """Negative-tag images go to the NEGATIVE_FOLDER folder; an image with two tags, or with a tag whose
    name cannot be a folder, fails by name with its catalogue code and stays in the project; a blob
    already under an image's name is left (recorded only when it holds the image's bytes)."""
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("in"))
    settings["NEGATIVE_FOLDER"] = "_none"
    client = trainer(localvision_endpoint)
    project = client.create_project(
        settings["CUSTOMVISION_PROJECT_NAME"], domain_id=FOOD_DOMAIN, classification_type="Multilabel"
    )
    apple = client.create_tag(project.id, "apple")
    banana = client.create_tag(project.id, "banana")
    negative = client.create_tag(project.id, "Nothing", type="Negative")
    slashed = client.create_tag(project.id, "fruit/citrus")
    photos = sorted((fruit_dir / "training-images").rglob("*.jpg"))
    plan = [(photos[0], [apple.id]), (photos[1], [apple.id, banana.id]), (photos[2], [negative.id]),
            (photos[3], [slashed.id]), (photos[4], [apple.id]), (photos[5], [apple.id])]  # fmt: skip
    ids = {}
    for path, tag_ids in plan:
        batch = ImageFileCreateBatch(
            images=[ImageFileCreateEntry(name=path.name, contents=path.read_bytes())]
        )
        batch.tag_ids = tag_ids
        ids[path] = client.create_images_from_files(project.id, batch).images[0].image.id
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    same_bytes = f"apple/{ids[photos[4]]}.jpg"  # as a crash after the copy, before its record, leaves it
    stores["training"].upload_blob(same_bytes, photos[4].read_bytes())
    other_bytes = f"apple/{ids[photos[5]]}.jpg"  # someone else's file under that name
    stores["training"].upload_blob(other_bytes, photos[6].read_bytes())

    code, body = start_import(app)
    assert code == 202
    run, _ = run_to_end(app, azurite_conn_str, settings, body["runId"])

    counts = run["importCounts"]
    assert run["status"] == "succeeded", run
    assert (counts["tagged"], counts["copied"], counts["alreadyPresent"]) == (6, 2, 2), counts
    assert (counts["failed"], counts["untagged"]) == (2, 0), counts
    failures = {f["imageId"]: (f["code"], f["blob"]) for f in counts["failures"]}
    assert failures == {
        ids[photos[1]]: ("ImportMultipleTags", None),
        ids[photos[3]]: ("ImportTagNotAFolder", None),
    }
    blobs = training_blobs(stores["training"])
    copied = {f"apple/{ids[photos[0]]}.jpg", f"_none/{ids[photos[2]]}.jpg"}
    assert blobs.keys() == copied | {same_bytes, other_bytes}
    assert blobs[f"_none/{ids[photos[2]]}.jpg"][0] == sha256(photos[2].read_bytes())
    assert blobs[other_bytes][0] == sha256(photos[6].read_bytes())  # left as it was
    assert client.get_image_count(project.id) == 6  # nothing left the project
    manifest = Manifest(stores["pipeline"]).entries()
    assert manifest.keys() == copied | {same_bytes}
    assert manifest[f"_none/{ids[photos[2]]}.jpg"].tag == "_none"
    assert {(e.image_id, e.status, e.owned) for e in manifest.values()} == {
        (ids[photos[0]], "Imported", True), (ids[photos[2]], "Imported", True),
        (ids[photos[4]], "Imported", True),
    }  # fmt: skip


def test_an_import_and_a_retrain_never_run_at_once(load_app, azurite_conn_str, localvision_endpoint):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("is"))
    app = load_app(settings)
    containers(azurite_conn_str, settings)

    retrain_code, retrain = start_retrain(app)
    import_code, imported = start_import(app)
    assert (retrain_code, import_code) == (202, 200)
    assert imported["started"] is False and imported["runId"] == retrain["runId"]
    assert imported["trigger"] == "http" and imported["statusUrl"] == retrain["statusUrl"]

    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("is"))
    app = load_app(settings)
    containers(azurite_conn_str, settings)
    import_code, imported = start_import(app)
    retrain_code, retrain = start_retrain(app)
    assert (import_code, retrain_code) == (202, 200)
    assert retrain["started"] is False and retrain["runId"] == imported["runId"]
    assert retrain["trigger"] == "import"


def test_an_import_of_a_project_that_does_not_exist_fails_naming_the_setting(
    load_app, azurite_conn_str, localvision_endpoint
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("ip"))
    app = load_app(settings)
    containers(azurite_conn_str, settings)
    code, body = start_import(app)
    assert code == 202
    run, _ = run_to_end(app, azurite_conn_str, settings, body["runId"])
    assert run["status"] == "failed" and run["error"]["code"] == "ProjectNotFound"
    assert "CUSTOMVISION_PROJECT_NAME" in run["error"]["message"]
    assert run["importCounts"] is None


def test_the_import_route_needs_the_function_key_through_devhost(
    azurite_conn_str, localvision_endpoint, tmp_path: Path
):
    example = json.loads((PROJECT_ROOT / "local.settings.json.example").read_text(encoding="utf-8"))
    values = {
        **example["Values"],
        **base_settings(azurite_conn_str, localvision_endpoint, unique("ik")),
        "AzureWebJobsStorage": azurite_conn_str,
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
    }
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    port, log = free_port(), tmp_path / "devhost.log"
    command = devhost_service.command(str(PROJECT_ROOT / "function_app.py"), port, settings=settings_file)
    process = spawn(command, log, cwd=PROJECT_ROOT)
    host = Child(process, log, {"http": port})
    try:
        wait_ready(lambda: answers_tcp(port), process, log, "devhost")
        wait_until(lambda: "Host started" in log.read_text(errors="replace"), 60, "devhost start")
        url = f"http://127.0.0.1:{port}/api/training/import"
        assert requests.post(url, timeout=30).status_code == 401
        assert requests.post(url, headers={"x-functions-key": "not-the-key"}, timeout=30).status_code == 401
        assert requests.get(url, headers={"x-functions-key": FUNCTION_KEY}, timeout=30).status_code == 405
        accepted = requests.post(url, headers={"x-functions-key": FUNCTION_KEY}, timeout=30)
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert body["trigger"] == "import" and body["started"] is True
        assert body["statusUrl"] == f"http://127.0.0.1:{port}/api/retrain/{body['runId']}"
    finally:
        host.stop(timeout=60)


def test_the_download_takes_only_a_valid_link_of_bounded_size(
    localvision_endpoint, fruit_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """importer.download against localvision's real signed links: the bytes as uploaded; an altered
    signature (403), a non-http scheme or an image over the bound fails with its catalogue code."""
    client = trainer(localvision_endpoint)
    project = client.create_project(unique("Download "), domain_id=FOOD_DOMAIN)
    photo = sorted((fruit_dir / "training-images").rglob("*.jpg"))[0]
    batch = ImageFileCreateBatch(images=[ImageFileCreateEntry(name=photo.name, contents=photo.read_bytes())])
    client.create_images_from_files(project.id, batch)
    link = client.get_untagged_images(project.id)[0].original_image_uri
    pool = urllib3.PoolManager(retries=False)

    data = importer.download(link, pool)
    assert data == photo.read_bytes() and importer.extension_of(data, link) == "jpg"
    altered = link[:-1] + ("0" if link[-1] != "0" else "1")
    for bad in (altered, link.split("?", 1)[0], "file:///etc/passwd", "ftp://example.com/a.jpg"):
        with pytest.raises(importer.ImageNotCopied) as refused:
            importer.download(bad, pool)
        assert refused.value.code == "ImportDownloadFailed", bad
    monkeypatch.setattr(importer, "MAX_IMAGE_BYTES", len(data) - 1)
    with pytest.raises(importer.ImageNotCopied) as refused:
        importer.download(link, pool)
    assert refused.value.code == "ImportTooLarge"
    assert "by hand" in catalogue.text("ImportTooLarge", **refused.value.values)
    with pytest.raises(importer.ImageNotCopied) as refused:
        importer.extension_of(b"not an image", "https://example.com/files/original")
    assert refused.value.code == "NotAnImage"
    assert importer.extension_of(b"not decodable", "https://example.com/files/a.PNG?sv=1") == "png"
