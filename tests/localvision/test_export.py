"""Export through the SDK: export_iteration / get_exports, the signed download, the zip, each error."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import onnx
import pytest
import requests
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.exceptions import HttpOperationError

from devstack.photos import TAGS as FRUITS
from devstack.photos import TEST_TAGS as TEST_PHOTOS
from localvision.exporter import FLAVORS
from localvision.ml.export import supported_flavors
from localvision.server import ServerOptions, serve_in_thread
from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.export.sample_consumer import SampleConsumer
from tests.localvision.helpers import (
    BLUE,
    COMPACT_DOMAIN,
    PREDICTION_RESOURCE_ID,
    RED,
    image_bytes,
    kept,
    predictor,
    tiny_compact,
    trainer,
    upload,
    wait_exported,
    wait_trained,
    with_query,
)

PUBLISHED = "compact-fruit"


@dataclass
class Trained:
    client: CustomVisionTrainingClient
    project_id: str
    iteration_id: str


def error_of(call, *args, **kwargs) -> HttpOperationError:
    with pytest.raises(HttpOperationError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture(scope="module")
def fruit(localvision_endpoint: str, fruit_dir: Path):
    """The fruit photos (5 a tag) on General (compact), trained and published."""
    client = trainer(localvision_endpoint)
    project = client.create_project("Compact fruit", domain_id=COMPACT_DOMAIN)
    for name in FRUITS:
        tag = client.create_tag(project.id, name)
        entries = [
            ImageFileCreateEntry(name=path.name, contents=path.read_bytes(), tag_ids=[tag.id])
            for path in sorted((fruit_dir / "training-images" / name).glob("*.jpg"))[:5]
        ]
        assert client.create_images_from_files(
            project.id, ImageFileCreateBatch(images=entries)
        ).is_batch_successful
    iteration = wait_trained(client, project.id, client.train_project(project.id).id)
    assert iteration.status == "Completed", iteration.training_error_details
    client.publish_iteration(project.id, iteration.id, PUBLISHED, PREDICTION_RESOURCE_ID)
    yield Trained(client, project.id, iteration.id)
    client.unpublish_iteration(project.id, iteration.id)
    client.delete_project(project.id)


@pytest.fixture(scope="module")
def exported(fruit: Trained):
    """The default ONNX export of the fruit iteration: (first answer, Done export, downloaded zip)."""
    first = fruit.client.export_iteration(fruit.project_id, fruit.iteration_id, "ONNX")
    done = wait_exported(fruit.client, fruit.project_id, fruit.iteration_id)
    assert done.status == "Done"
    response = requests.get(done.download_uri, timeout=30)  # a plain GET, no key
    assert response.status_code == 200, response.text
    return first, done, response


def test_a_compact_iteration_is_exportable_to_onnx(fruit):
    iteration = fruit.client.get_iteration(fruit.project_id, fruit.iteration_id)
    assert iteration.exportable is True
    assert "ONNX" in iteration.exportable_to


def test_export_starts_in_the_background_and_downloads_without_a_key(fruit, exported):
    first, done, response = exported
    assert (first.platform, first.status, first.flavor, first.download_uri) == (
        "ONNX",
        "Exporting",
        None,
        None,
    )
    assert (done.platform, done.flavor, done.newer_version_available) == ("ONNX", None, False)
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == sorted(
        ["model.onnx", "labels.txt", "cvexport.manifest", "metadata_properties.json"]
    )
    manifest = json.loads(archive.read("cvexport.manifest"))
    assert manifest["ModelFileSHA1"] == hashlib.sha1(archive.read("model.onnx")).hexdigest()
    assert (manifest["Platform"], manifest["Flavor"], manifest["IterationId"]) == (
        "ONNX",
        None,
        fruit.iteration_id,
    )
    tags = fruit.client.get_tags(fruit.project_id, iteration_id=fruit.iteration_id)
    assert archive.read("labels.txt").decode().splitlines() == [tag.name for tag in tags] == list(FRUITS)


def test_exporting_again_when_done_returns_the_same_export(fruit, exported):
    again = fruit.client.export_iteration(fruit.project_id, fruit.iteration_id, "onnx")
    assert (again.platform, again.status, again.flavor) == ("ONNX", "Done", None)
    assert urlsplit(again.download_uri).path == urlsplit(exported[1].download_uri).path
    assert [e.flavor for e in fruit.client.get_exports(fruit.project_id, fruit.iteration_id)] == [None]


def test_the_servers_zip_classifies_the_test_photos_as_the_server_does(fruit, exported, fruit_dir):
    consumer = SampleConsumer(exported[2].content)
    client = predictor(urlsplit(exported[1].download_uri)._replace(path="", query="").geturl())
    for photo, expected in TEST_PHOTOS.items():
        path = fruit_dir / "test-images" / photo
        served = client.classify_image(fruit.project_id, PUBLISHED, path.read_bytes()).predictions
        assert consumer.top_tag(path) == served[0].tag_name == expected
        local = dict(zip(consumer.labels, consumer.probabilities(path).tolist(), strict=True))
        for prediction in served:
            assert abs(local[prediction.tag_name] - prediction.probability) <= 0.05, prediction.tag_name


def test_flavors_onnx12_and_float16_and_an_export_in_progress(fruit, exported):
    started = fruit.client.export_iteration(fruit.project_id, fruit.iteration_id, "ONNX", flavor="ONNX12")
    assert (started.status, started.flavor) == ("Exporting", "ONNX12")
    busy = error_of(fruit.client.export_iteration, fruit.project_id, fruit.iteration_id, "ONNX", "ONNX12")
    assert (busy.response.status_code, busy.error.code) == (400, "BadRequestExportAlreadyInProgress")
    assert "get_exports" in busy.error.message
    fruit.client.export_iteration(fruit.project_id, fruit.iteration_id, "ONNX", flavor="OnnxFloat16")
    models = {}
    for flavor in ("ONNX12", "OnnxFloat16"):
        done = wait_exported(fruit.client, fruit.project_id, fruit.iteration_id, flavor)
        assert done.status == "Done"
        archive = zipfile.ZipFile(io.BytesIO(requests.get(done.download_uri, timeout=30).content))
        assert json.loads(archive.read("cvexport.manifest"))["Flavor"] == flavor
        models[flavor] = onnx.load_from_string(archive.read("model.onnx"))
    assert models["ONNX12"].opset_import[0].version == 7
    float16 = onnx.TensorProto.FLOAT16
    assert models["OnnxFloat16"].graph.input[0].type.tensor_type.elem_type == float16
    flavors = {e.flavor for e in fruit.client.get_exports(fruit.project_id, fruit.iteration_id)}
    assert flavors == {None, "ONNX12", "OnnxFloat16"}


@pytest.mark.parametrize(
    ("platform", "flavor", "code", "words"),
    [
        ("CoreML", None, "ErrorExporterInvalidPlatform", "exports ONNX only"),
        ("TensorFlow", "TensorFlowLite", "ErrorExporterInvalidPlatform", "exports ONNX only"),
        ("ONNX", "ONNX10", "ErrorExporterInvalidPlatform", "ONNX12, OnnxFloat16"),
        ("ONNX", "Linux", "ErrorExporterInvalidPlatform", "leave flavor out"),
        ("Caffe", None, "BadRequest", "CoreML, TensorFlow, DockerFile, ONNX, VAIDK, OpenVino"),
        ("", None, "BadRequestRequiredParamIsNull", "'platform' is required"),
    ],
)
def test_platforms_and_flavors_it_does_not_write(fruit, platform, flavor, code, words):
    error = error_of(fruit.client.export_iteration, fruit.project_id, fruit.iteration_id, platform, flavor)
    assert (error.response.status_code, error.error.code) == (400, code)
    assert words in error.error.message


def test_unknown_iteration_and_project(fruit):
    other = "00000000-0000-0000-0000-000000000000"
    for call in (fruit.client.export_iteration, fruit.client.get_exports):
        args = (
            (fruit.project_id, other, "ONNX")
            if call == fruit.client.export_iteration
            else (fruit.project_id, other)
        )
        error = error_of(call, *args)
        assert (error.response.status_code, error.error.code) == (404, "NotFoundIteration")
    error = error_of(fruit.client.export_iteration, other, fruit.iteration_id, "ONNX")
    assert (error.response.status_code, error.error.code) == (404, "NotFoundProject")


def test_a_non_compact_domain_does_not_export(training):
    project = training.create_project("general", classification_type="Multiclass")  # General: not compact
    try:
        for tag_name, color, offset in (("red", RED, 0), ("blue", BLUE, 100)):
            tag = training.create_tag(project.id, tag_name)
            upload(training, project.id, tag.id, [image_bytes(color, seed=offset + i) for i in range(5)])
        iteration = wait_trained(training, project.id, training.train_project(project.id).id)
        assert iteration.status == "Completed"
        assert (iteration.exportable, iteration.exportable_to) == (False, [])
        error = error_of(training.export_iteration, project.id, iteration.id, "ONNX")
        assert (error.response.status_code, error.error.code) == (
            400,
            "BadRequestProjectUnsupportedExportPlatform",
        )
        assert "'General'" in error.error.message and "compact domain" in error.error.message
        assert training.get_exports(project.id, iteration.id) == []
    finally:
        training.delete_project(project.id)


def test_training_iteration_then_delete_removes_its_exports(localvision_server, training):
    project_id, iteration_id = tiny_compact(training)
    try:
        error = error_of(training.export_iteration, project_id, iteration_id, "ONNX")  # still Training
        assert (error.response.status_code, error.error.code) == (400, "BadRequestExportWhileTraining")
        assert wait_trained(training, project_id, iteration_id).status == "Completed"
        training.export_iteration(project_id, iteration_id, "ONNX")
        uri = wait_exported(training, project_id, iteration_id).download_uri
        folder = f"projects/{project_id}/iterations/{iteration_id}"
        assert f"{folder}/exports/ONNX.zip" in kept(localvision_server, folder)
        training.delete_iteration(project_id, iteration_id)
        assert kept(localvision_server, folder) == []
        gone = requests.get(uri, timeout=10)
        assert (gone.status_code, gone.json()["code"]) == (404, "NotFoundIteration")
    finally:
        training.delete_project(project_id)


def test_unsigned_tampered_and_expired_export_links_are_refused(localvision_server, fruit, exported):
    uri = exported[1].download_uri
    parts = urlsplit(uri)
    signature = parse_qs(parts.query)["sig"][0]
    origin = f"{parts.scheme}://{parts.netloc}"
    refused = {
        "unsigned": with_query(uri, se=None, sig=None),
        "signature altered": with_query(uri, sig=("A" if signature[0] != "A" else "B") + signature[1:]),
        "expiry extended": with_query(uri, se=str(int(time.time()) + 10 * 365 * 86400)),
        "other file, same signature": uri.replace("/ONNX.zip?", "/ONNX-ONNX12.zip?"),
        "expired": origin + localvision_server.signer.sign(parts.path, expires=int(time.time()) - 5),
    }
    for case, link in refused.items():
        response = requests.get(link, headers={"Training-Key": TRAINING_KEY}, timeout=10)
        assert response.status_code == 403, case
        assert response.json()["code"] == "AuthenticationFailed", case
        assert "fresh link" in response.json()["message"], case


def test_a_failed_iteration_does_not_export(tmp_path):
    server = serve_in_thread(
        tmp_path / "data", TRAINING_KEY, PREDICTION_KEY, options=ServerOptions(faults="trainfail:1")
    )
    try:
        client = trainer(server.endpoint)
        project_id, iteration_id = tiny_compact(client)
        assert wait_trained(client, project_id, iteration_id).status == "Failed"
        error = error_of(client.export_iteration, project_id, iteration_id, "ONNX")
        assert (error.response.status_code, error.error.code) == (400, "BadRequestExportValidationFailed")
        assert "Failed, not Completed" in error.error.message
    finally:
        server.stop()


def test_a_changed_exporter_offers_a_newer_version(localvision_server, training, monkeypatch):
    project_id, iteration_id = tiny_compact(training, "newer version")
    try:
        assert wait_trained(training, project_id, iteration_id).status == "Completed"
        training.export_iteration(project_id, iteration_id, "ONNX")
        old = wait_exported(training, project_id, iteration_id)
        assert old.newer_version_available is False
        exporter = localvision_server.server.exporter
        monkeypatch.setattr(exporter, "version", lambda: "9.9-a-later-exporter")  # as after an upgrade
        assert wait_exported(training, project_id, iteration_id).newer_version_available is True
        again = training.export_iteration(project_id, iteration_id, "ONNX")
        assert (again.status, again.download_uri) == ("Exporting", None)
        assert wait_exported(training, project_id, iteration_id).newer_version_available is False
    finally:
        training.delete_project(project_id)


def test_deleting_a_project_while_it_exports_leaves_nothing_on_disk(localvision_server, training):
    doomed, doomed_iteration = tiny_compact(training, "deleted while exporting")
    marker, marker_iteration = tiny_compact(training, "exported after it")
    try:
        assert wait_trained(training, doomed, doomed_iteration).status == "Completed"
        assert wait_trained(training, marker, marker_iteration).status == "Completed"
        assert training.export_iteration(doomed, doomed_iteration, "ONNX").status == "Exporting"
        training.export_iteration(marker, marker_iteration, "ONNX")
        training.delete_project(doomed)
        # One export at a time, in order: once the marker's is Done, the doomed one has ended.
        assert wait_exported(training, marker, marker_iteration).status == "Done"
        assert kept(localvision_server, f"projects/{doomed}") == []
    finally:
        training.delete_project(marker)


def test_exports_survive_a_restart_and_an_interrupted_one_resumes(tmp_path):
    data = tmp_path / "data"
    first = serve_in_thread(data, TRAINING_KEY, PREDICTION_KEY)
    try:
        client = trainer(first.endpoint)
        project_id, iteration_id = tiny_compact(client)
        assert wait_trained(client, project_id, iteration_id).status == "Completed"
        client.export_iteration(project_id, iteration_id, "ONNX")
        done = wait_exported(client, project_id, iteration_id)
        client.export_iteration(project_id, iteration_id, "ONNX", flavor="ONNX12")
        client.export_iteration(project_id, iteration_id, "ONNX", flavor="OnnxFloat16")
        port = first.port
    finally:
        first.stop()  # finishes the export in hand (ONNX12); the one queued behind it stays Exporting
    stored = json.loads((data / "projects" / project_id / "project.json").read_text())
    statuses = {e["flavor"]: e["status"] for e in stored["iterations"][iteration_id]["exports"]}
    assert statuses == {None: "Done", "ONNX12": "Done", "OnnxFloat16": "Exporting"}
    second = serve_in_thread(data, TRAINING_KEY, PREDICTION_KEY, port=port)
    try:
        client = trainer(second.endpoint)
        before = requests.get(done.download_uri, timeout=30)
        assert before.status_code == 200
        assert zipfile.ZipFile(io.BytesIO(before.content)).read("labels.txt") == b"red\nblue\n"
        for flavor in ("ONNX12", "OnnxFloat16"):
            assert wait_exported(client, project_id, iteration_id, flavor).status == "Done"
    finally:
        second.stop()


def test_the_exporter_offers_the_flavors_the_zip_builder_writes():
    assert list(FLAVORS) == ["ONNX"]
    assert list(FLAVORS["ONNX"]) == supported_flavors()
