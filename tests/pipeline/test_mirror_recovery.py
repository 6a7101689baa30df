"""An unreadable sync manifest (not JSON, the wrong shape) against real Azurite and localvision: it is
kept aside for inspection, rebuilt from the container and the project with a catalogue warning, and the
pipeline owns its earlier uploads again (a later delete of their blobs deletes them)."""

from __future__ import annotations

import json

import pytest

from shared import catalogue
from shared.mirror.manifest import MANIFEST, Manifest
from tests.pipeline.conftest import base_settings, containers, unique, upload_folder
from tests.pipeline.test_mirror import Setup, cycle, tiny_jpeg

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\x00\xffnot json at all", "it is not JSON"),
        (b"[" * 50_000, "it is not JSON"),
        (b"[]", "it is not a JSON object"),
        (
            b'{"projectId": "PID", "images": {"apple/0.jpg": 5}}',
            "an entry of its images is not shaped as the sync writes it",
        ),
        (b'{"images": []}', "its images are not an object"),
    ],
    ids=["bytes", "nested", "list", "entry-5", "images-list"],
)
def test_an_unreadable_manifest_is_kept_aside_and_rebuilt_with_ownership(
    azurite_conn_str, localvision_endpoint, body: bytes, why: str
):
    setup = Setup(azurite_conn_str, localvision_endpoint, "mf")
    training, pipeline = setup.stores["training"], setup.stores["pipeline"]
    for index in range(4):
        training.upload_blob(f"apple/{index}.jpg", tiny_jpeg(index))
    training.upload_blob("banana/0.jpg", tiny_jpeg(10))
    assert setup.mirror().uploaded == 5
    body = body.replace(b"PID", setup.pid.encode())  # the manifest of this very project
    pipeline.upload_blob(MANIFEST, body, overwrite=True)

    report = setup.mirror()
    assert report.complete and (report.uploaded, report.recovered, report.duplicates, report.failed) == (
        0,
        5,
        0,
        0,
    )
    kept = [b.name for b in pipeline.list_blobs(name_starts_with="sync/") if "unreadable" in b.name]
    assert len(kept) == 1 and pipeline.download_blob(kept[0]).readall() == body
    assert [(w.code, w.message) for w in report.warnings] == [
        ("ManifestRebuilt", catalogue.text("ManifestRebuilt", why=why, kept=kept[0]))
    ]
    rebuilt = json.loads(pipeline.download_blob(MANIFEST).readall())
    assert "rebuilding" not in rebuilt and sorted(rebuilt["images"]) == [
        "apple/0.jpg",
        "apple/1.jpg",
        "apple/2.jpg",
        "apple/3.jpg",
        "banana/0.jpg",
    ]
    assert all(entry["owned"] for entry in rebuilt["images"].values())

    # the next pass sees nothing to do and warns no more; a deleted blob deletes its image again
    again = setup.mirror()
    assert (again.unchanged, again.warnings) == (5, [])
    training.delete_blob("apple/0.jpg")
    assert setup.mirror().deleted == 1
    assert setup.client.get_image_count(setup.pid) == 4


def test_an_image_the_pipeline_did_not_upload_is_not_adopted_by_a_rebuild(
    azurite_conn_str, localvision_endpoint
):
    """A portal image with the same bytes but another tag stays not the pipeline's: a duplicate, named."""
    setup = Setup(azurite_conn_str, localvision_endpoint, "mfp")
    training, pipeline = setup.stores["training"], setup.stores["pipeline"]
    portal = setup.client.create_tag(setup.pid, "portal")
    setup.client.create_images_from_data(setup.pid, tiny_jpeg(3), tag_ids=[portal.id])
    pipeline.upload_blob(MANIFEST, b"[]")
    training.upload_blob("apple/x.jpg", tiny_jpeg(3))
    training.upload_blob("apple/y.jpg", tiny_jpeg(4))
    report = setup.mirror()
    assert (report.uploaded, report.recovered, report.duplicates) == (1, 0, 1)
    assert report.duplicate_blobs == ["apple/x.jpg"]
    training.delete_blob("apple/x.jpg")
    assert setup.mirror().deleted == 0 and setup.client.get_image_count(setup.pid) == 2


def test_a_reader_that_only_checks_for_work_leaves_the_manifest_in_place(
    azurite_conn_str, localvision_endpoint
):
    setup = Setup(azurite_conn_str, localvision_endpoint, "mfr")
    pipeline = setup.stores["pipeline"]
    pipeline.upload_blob(MANIFEST, b"5")
    manifest = Manifest(pipeline, repair=False)
    assert manifest.entries() == {} and manifest.rebuilt is None
    assert pipeline.download_blob(MANIFEST).readall() == b"5"
    assert [b.name for b in pipeline.list_blobs(name_starts_with="sync/")] == [MANIFEST]


def test_a_retrain_after_the_manifest_was_corrupted_succeeds_and_names_it(
    load_app, azurite_conn_str, localvision_endpoint, fruit_dir
):
    """Through the functions, as the attack did: a manifest with one entry ``5`` used to fail every later
    cycle with StepFailed; now the cycle goes on, its record names the manifest, nothing is uploaded again."""
    settings = base_settings(azurite_conn_str, localvision_endpoint, unique("mc"))
    settings.update(GATE_MIN_PRECISION="0", GATE_MIN_RECALL="0", GATE_MIN_AP="0", GATE_TOLERANCE="1")
    app = load_app(settings)
    stores = containers(azurite_conn_str, settings)
    upload_folder(stores["training"], fruit_dir / "training-images")
    first = cycle(app, azurite_conn_str, settings)
    assert first["status"] == "succeeded" and first["sync"]["uploaded"] == 45, first
    pid = first["projectId"]
    stores["pipeline"].upload_blob(
        MANIFEST, json.dumps({"projectId": pid, "images": {"apple/x.jpg": 5}}).encode(), overwrite=True
    )
    second = cycle(app, azurite_conn_str, settings)
    assert second["status"] == "skipped", second  # nothing changed in the project: no training
    assert (second["sync"]["recovered"], second["sync"]["uploaded"], second["sync"]["failed"]) == (45, 0, 0)
    [warning] = second["sync"]["warnings"]
    assert warning["code"] == "ManifestRebuilt" and "sync/manifest.unreadable-" in warning["message"]
    assert "an entry of its images is not shaped as the sync writes it" in warning["message"]
    third = cycle(app, azurite_conn_str, settings)
    assert (third["status"], third["sync"]["unchanged"], third["sync"]["warnings"]) == ("skipped", 45, [])
