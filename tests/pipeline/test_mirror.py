"""The mirror sync against real Azurite and a real localvision: the training container is the truth.

The retrain test goes through the functions (POST /api/retrain -> worker); the others call the mirror's
one entry point (shared.mirror.sync.Mirror) directly, without training, to keep them short.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from PIL import Image

from shared.customvision.clients import CustomVision
from shared.mirror.manifest import MANIFEST, Manifest
from shared.mirror.plan import Entry
from shared.mirror.sync import Mirror, Sources
from shared.settings.definitions import load_settings
from tests.pipeline.conftest import (
    FOOD_DOMAIN,
    base_settings,
    containers,
    http_request,
    response_json,
    run_worker,
    trainer,
    unique,
    upload_folder,
)

pytestmark = pytest.mark.slow


def cycle(app, conn_str: str, settings: dict) -> dict:
    response = app.retrain(http_request("POST", "retrain"))
    assert response.status_code == 202, response.get_body()
    run_id = response_json(response)["runId"]

    def status() -> dict:
        route = {"runId": run_id}
        return response_json(app.retrain_status(http_request("GET", f"retrain/{run_id}", route_params=route)))

    run_worker(
        app, conn_str, settings["RETRAIN_QUEUE"], lambda: status()["status"] not in ("queued", "running")
    )
    return status()


def manifest_images(pipeline) -> dict[str, dict]:
    return json.loads(pipeline.download_blob(MANIFEST).readall())["images"]


def tag_counts(endpoint: str, project_id: str) -> dict[str, int]:
    return {t.name: t.image_count for t in trainer(endpoint).get_tags(project_id)}


def test_one_retrain_mirrors_moves_deletes_replacements_and_new_folders(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir: Path
):
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("mi"))
    settings.update(GATE_MIN_PRECISION="0", GATE_MIN_RECALL="0", GATE_MIN_AP="0", GATE_TOLERANCE="1")
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    training = stores["training"]
    upload_folder(training, fruit_dir / "training-images")
    first = cycle(app, azurite_conn_str, settings)
    assert first["status"] == "succeeded", first
    assert first["sync"]["uploaded"] == 45
    before = manifest_images(stores["pipeline"])
    assert app.pipeline.retrainer.has_new_training() is False

    # deleting alone is a change the timer sees
    oranges = sorted(n for n in before if n.startswith("orange/"))[:2]
    for name in oranges:
        training.delete_blob(name)
    assert app.pipeline.retrainer.has_new_training() is True

    moved = sorted(n for n in before if n.startswith("apple/"))[:3]
    for name in moved:
        data = training.download_blob(name).readall()
        training.upload_blob("banana/" + name.partition("/")[2], data)
        training.delete_blob(name)
    replaced = sorted(n for n in before if n.startswith("banana/"))[0]
    more = fruit_dir / "more-training-images"
    training.upload_blob(replaced, (more / "banana" / "banana4.jpg").read_bytes(), overwrite=True)
    training.upload_blob("Apple/new.jpg", (more / "apple" / "apple5.jpg").read_bytes())
    long_folder = "f" * 300
    training.upload_blob(f"{long_folder}/x.jpg", (more / "orange" / "orange8.jpg").read_bytes())

    second = cycle(app, azurite_conn_str, settings)

    assert second["status"] == "succeeded", second
    sync = second["sync"]
    assert {k: sync[k] for k in ("listed", "uploaded", "retagged", "replaced", "deleted", "unchanged")} == {
        "listed": 45, "uploaded": 1, "retagged": 3, "replaced": 1, "deleted": 2, "unchanged": 39,
    }  # fmt: skip
    assert (sync["duplicates"], sync["failed"], sync["ignored"], sync["tagsCreated"]) == (0, 1, 0, [])
    assert sync["failures"] == [
        {"blob": f"{long_folder}/x.jpg", "code": "InvalidTagName", "message": sync["failures"][0]["message"]}
    ]
    assert "folder name" in sync["failures"][0]["message"] and "rename" in sync["failures"][0]["message"]
    pid = second["projectId"]
    assert tag_counts(localvision_endpoint, pid) == {"apple": 13, "banana": 18, "orange": 13}
    client = trainer(localvision_endpoint)
    assert client.get_image_count(pid) == 44  # the deleted and the replaced images are gone
    assert client.get_image_count(pid, iteration_id=second["iteration"]["id"]) == 44  # all of them trained
    after = manifest_images(stores["pipeline"])
    banana_tag = next(t.id for t in client.get_tags(pid) if t.name == "banana")
    for name in moved:  # same image, now a banana
        target = "banana/" + name.partition("/")[2]
        assert after[target]["imageId"] == before[name]["imageId"] and name not in after
        [image] = client.get_images_by_ids(pid, image_ids=[after[target]["imageId"]])
        assert [t.tag_id for t in image.tags] == [banana_tag]
    assert after[replaced]["imageId"] != before[replaced]["imageId"]
    assert not client.get_images_by_ids(pid, image_ids=[before[replaced]["imageId"]])
    assert not client.get_images_by_ids(pid, image_ids=[before[n]["imageId"] for n in oranges])
    assert after["Apple/new.jpg"]["tagIds"] == before[moved[0]]["tagIds"]  # joined tag "apple"

    # nothing changed since: the next cycle trains nothing, and the refused folder is not retried
    assert app.pipeline.retrainer.has_new_training() is False
    third = cycle(app, azurite_conn_str, settings)
    assert third["status"] == "skipped", third
    assert (third["sync"]["unchanged"], third["sync"]["failed"]) == (45, 0)


# --- the mirror alone (no training) ---------------------------------------------------------------


def tiny_jpeg(index: int) -> bytes:
    """A small valid JPEG whose bytes differ for each index."""
    image = Image.new("RGB", (40, 40), ((index * 7) % 256, (index * 13) % 256, (index // 256) * 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Setup:
    def __init__(self, conn_str: str, endpoint: str, prefix: str, **overrides: str) -> None:
        values = base_settings(conn_str, endpoint, unique(prefix)) | overrides
        self.settings = load_settings(values)
        self.stores = containers(conn_str, values)
        self.cv = CustomVision(self.settings)
        self.client = trainer(endpoint)
        project = self.client.create_project(values["CUSTOMVISION_PROJECT_NAME"], domain_id=FOOD_DOMAIN)
        self.pid = project.id

    def mirror(self, budget: int = 100, so_far=None):
        sources = Sources(self.stores["training"], self.stores["pipeline"])
        return Mirror(self.cv, self.pid, sources, self.settings.negative_folder).run(budget, so_far)


def test_images_added_through_the_sdk_are_never_touched(azurite_conn_str, localvision_endpoint, fruit_dir):
    setup = Setup(azurite_conn_str, localvision_endpoint, "sdk")
    training = setup.stores["training"]
    upload_folder(training, fruit_dir / "training-images" / "apple", prefix="apple/")
    assert setup.mirror().uploaded == 15
    apple = next(t for t in setup.client.get_tags(setup.pid) if t.name == "apple")
    portal = setup.client.create_tag(setup.pid, "portal-only")
    test_images = fruit_dir / "test-images"
    entries = [
        ImageFileCreateEntry(
            name="t1", contents=(test_images / "IMG_TEST_1.jpg").read_bytes(), tag_ids=[apple.id]
        ),
        ImageFileCreateEntry(
            name="t2", contents=(test_images / "IMG_TEST_2.jpg").read_bytes(), tag_ids=[portal.id]
        ),
        ImageFileCreateEntry(name="t3", contents=(test_images / "IMG_TEST_3.jpg").read_bytes()),
    ]
    added = setup.client.create_images_from_files(setup.pid, ImageFileCreateBatch(images=entries))
    sdk_ids = sorted(i.image.id for i in added.images)

    # the container changes: a blob goes, one moves, and a blob holds the bytes of an SDK image
    names = sorted(b.name for b in training.list_blobs())
    training.delete_blob(names[0])
    training.upload_blob("orange/" + names[1].partition("/")[2], training.download_blob(names[1]).readall())
    training.delete_blob(names[1])
    training.upload_blob("banana/same-as-sdk.jpg", (test_images / "IMG_TEST_2.jpg").read_bytes())
    report = setup.mirror()

    assert (report.deleted, report.retagged, report.duplicates) == (1, 1, 1)
    found = {
        i.id: sorted(t.tag_name for t in i.tags or [])
        for i in setup.client.get_images_by_ids(setup.pid, image_ids=sdk_ids)
    }
    expected = {
        added.images[0].image.id: ["apple"],
        added.images[1].image.id: ["portal-only"],
        added.images[2].image.id: [],
    }
    assert found == expected
    # and the blob that duplicates an SDK image does not own it: deleting the blob leaves the image
    training.delete_blob("banana/same-as-sdk.jpg")
    assert setup.mirror().deleted == 0
    assert len(setup.client.get_images_by_ids(setup.pid, image_ids=sdk_ids)) == 3


def test_the_negative_folder_becomes_a_negative_tag(azurite_conn_str, localvision_endpoint, fruit_dir):
    setup = Setup(azurite_conn_str, localvision_endpoint, "neg", NEGATIVE_FOLDER="none-of-these")
    training = setup.stores["training"]
    upload_folder(training, fruit_dir / "training-images" / "apple", prefix="apple/")
    for index in range(3):
        training.upload_blob(f"None-Of-These/n{index}.jpg", tiny_jpeg(index))
    report = setup.mirror()
    assert (report.uploaded, report.failed) == (18, 0)
    tags = {t.name: (t.type, t.image_count) for t in setup.client.get_tags(setup.pid)}
    assert tags == {"apple": ("Regular", 15), "None-Of-These": ("Negative", 3)}
    # a second folder spelled differently joins the same Negative tag
    training.upload_blob("none-of-these /n9.jpg", tiny_jpeg(9))
    setup.mirror()
    assert {t.name: (t.type, t.image_count) for t in setup.client.get_tags(setup.pid)}["None-Of-These"] == (
        "Negative",
        4,
    )


def test_a_folder_differing_only_in_case_joins_the_tag_and_creation_is_bounded(
    azurite_conn_str, localvision_endpoint
):
    setup = Setup(azurite_conn_str, localvision_endpoint, "case")
    setup.client.create_tag(setup.pid, "apple")
    training = setup.stores["training"]
    training.upload_blob("APPLE/a.jpg", tiny_jpeg(1))
    training.upload_blob("Apple/b.jpg", tiny_jpeg(2))
    training.upload_blob("  apple  /c.jpg", tiny_jpeg(3))
    report = setup.mirror()
    assert (report.uploaded, report.failed, report.tags_created) == (3, 0, [])
    assert {t.name: t.image_count for t in setup.client.get_tags(setup.pid)} == {"apple": 3}


def test_a_sync_continued_in_passes_counts_once_and_deletes_go_256_ids_a_call(
    azurite_conn_str, localvision_endpoint
):
    """The worker continues a long sync in a new message after a budget of call batches; localvision
    refuses more than 256 imageIds in one delete_images call, as the SDK documents."""
    setup = Setup(azurite_conn_str, localvision_endpoint, "many")
    training = setup.stores["training"]
    for index in range(300):
        training.upload_blob(f"dots/{index:03d}.jpg", tiny_jpeg(index))
    report, passes = None, 0
    while report is None or not report.complete:  # 5 upload batches of 64, 2 per pass
        report = setup.mirror(budget=2, so_far=report)
        passes += 1
    assert passes == 3
    assert (report.listed, report.uploaded, report.unchanged, report.tags_created) == (300, 300, 0, ["dots"])
    assert setup.client.get_image_count(setup.pid) == 300
    for blob in list(training.list_blobs()):
        training.delete_blob(blob.name)
    report = setup.mirror()
    assert report.deleted == 300 and report.failed == 0
    assert setup.client.get_image_count(setup.pid) == 0


def test_a_tag_created_by_someone_else_meanwhile_is_found_with_one_more_read(
    azurite_conn_str, localvision_endpoint
):
    from shared.mirror.plan import folder_of
    from shared.mirror.tags import TagResolver

    setup = Setup(azurite_conn_str, localvision_endpoint, "race")
    resolver = TagResolver(setup.cv, setup.pid)
    assert resolver.ids_of_key("apple") == ()  # the tags are read: none yet
    other = setup.client.create_tag(setup.pid, "apple")  # another writer creates it meanwhile
    assert resolver.id_of(folder_of("Apple/x.jpg", "_negative")) == other.id
    assert resolver.created == []
    too_long = folder_of("b" * 300 + "/x.jpg", "_negative")
    assert resolver.id_of(too_long) is None and resolver.failure(too_long) == "InvalidTagName"


def test_two_concurrent_manifest_writers_lose_nothing(azurite_conn_str, localvision_endpoint):
    values = base_settings(azurite_conn_str, localvision_endpoint, unique("mw"))
    pipeline = containers(azurite_conn_str, values)["pipeline"]
    seed = Manifest(pipeline)
    seed.for_project("p")
    seed.put("apple/keep.jpg", Entry("e0", "md5:0", "i0", "apple", ("t",), "OK", owned=True))
    seed.put("apple/gone.jpg", Entry("e1", "md5:1", "i1", "apple", ("t",), "OK", owned=True))
    seed.save()

    writers = [Manifest(pipeline), Manifest(pipeline)]
    writers[0].put("apple/a.jpg", Entry("ea", "md5:a", "ia", "apple", ("t",), "OK", owned=True))
    writers[0].put("apple/gone.jpg", None)
    writers[1].put("banana/b.jpg", Entry("eb", "md5:b", "ib", "banana", ("u",), "OK", owned=True))
    writers[1].data["needsTraining"] = True
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(manifest: Manifest) -> None:
        barrier.wait()
        try:
            manifest.save()
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    final = Manifest(pipeline)
    assert sorted(final.images) == ["apple/a.jpg", "apple/keep.jpg", "banana/b.jpg"]
    assert final.images["banana/b.jpg"]["imageId"] == "ib" and final.data["needsTraining"] is True
    assert final.data["projectId"] == "p"
