"""The blob store on a real Azurite: ETag-ordered writes of two servers on one container, and a restart
with an empty data folder (a lost cache) that finds every project, iteration and export again."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from azure.identity import DefaultAzureCredential
from azure.storage.blob import ContainerClient
from msrest.exceptions import HttpOperationError

from devstack import azurite
from devstack.localvision import start as start_localvision
from devstack.processes import free_port
from localvision import blobstore, cli
from localvision.blobstore import BlobStore, container_client
from localvision.persistence import StaleProject
from localvision.server import serve_in_thread
from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.localvision.conftest import blob_options
from tests.localvision.helpers import (
    BLUE,
    PREDICTION_RESOURCE_ID,
    image_bytes,
    predictor,
    tiny_compact,
    trained_tiny_project,
    trainer,
    upload,
    wait_exported,
    wait_trained,
)
from tests.localvision.test_server_options import run_cli

# The production retries (three) without their backoff's seconds.
NO_WAIT_RETRY = {**blobstore.RETRY, "initial_backoff": 0, "increment_base": 0.1, "random_jitter_range": 0}


@pytest.fixture
def container(azurite_conn_str: str) -> str:
    """A fresh container name for one test."""
    return f"lv-{uuid.uuid4().hex[:12]}"


def test_a_stale_document_is_refused_not_overwritten(azurite_conn_str, container, tmp_path):
    first = BlobStore(tmp_path / "a", ContainerClient.from_connection_string(azurite_conn_str, container))
    first.save_project("p1", {"id": "p1", "name": "first"})
    second = BlobStore(tmp_path / "b", ContainerClient.from_connection_string(azurite_conn_str, container))
    assert [doc["name"] for doc in second.load_projects()] == ["first"]
    first.save_project("p1", {"id": "p1", "name": "changed by the first"})
    with pytest.raises(StaleProject):
        second.save_project("p1", {"id": "p1", "name": "changed by the second"})
    assert second.reload_project("p1") == {"id": "p1", "name": "changed by the first"}
    second.save_project("p1", {"id": "p1", "name": "changed by the second"})  # after reading it: allowed
    with pytest.raises(StaleProject):  # a new project under an existing id never replaces it
        BlobStore(tmp_path / "c", first.container).save_project("p1", {"id": "p1", "name": "new"})
    assert first.reload_project("p1") == {"id": "p1", "name": "changed by the second"}


def test_a_second_writer_retries_and_no_update_is_lost(azurite_conn_str, container, tmp_path):
    options = blob_options(azurite_conn_str, container)
    one = serve_in_thread(tmp_path / "one", TRAINING_KEY, PREDICTION_KEY, options=options)
    two = None
    try:
        client_one = trainer(one.endpoint)
        project = client_one.create_project("shared")
        client_one.create_tag(project.id, "from one, before")
        two = serve_in_thread(tmp_path / "two", TRAINING_KEY, PREDICTION_KEY, options=options)
        client_two = trainer(two.endpoint)
        client_one.create_tag(project.id, "from one, after two read it")
        client_two.create_tag(project.id, "from two")  # two's copy is stale: conflict, reload, retry
        both = {"from one, before", "from one, after two read it", "from two"}
        assert {tag.name for tag in client_two.get_tags(project.id)} == both
        project.description = "one saw two's tag first"
        client_one.update_project(project.id, project)
        assert {tag.name for tag in client_one.get_tags(project.id)} == both
    finally:
        one.stop()
        if two is not None:
            two.stop()
    third = serve_in_thread(tmp_path / "three", TRAINING_KEY, PREDICTION_KEY, options=options)
    try:
        client = trainer(third.endpoint)
        assert {tag.name for tag in client.get_tags(project.id)} == both
        assert client.get_project(project.id).description == "one saw two's tag first"
    finally:
        third.stop()


def test_killed_and_restarted_on_an_empty_data_folder_serves_everything(
    azurite_conn_str, container, tmp_path, monkeypatch
):
    monkeypatch.setenv("LOCALVISION_BLOB_CONNECTION_STRING", azurite_conn_str)  # not on the command line
    args = ("--store", "blob", "--blob-container", container)
    first = start_localvision(tmp_path / "first", TRAINING_KEY, PREDICTION_KEY, *args)
    endpoint = f"http://127.0.0.1:{first.ports['http']}"
    client = trainer(endpoint)
    project_id, iteration_id = tiny_compact(client, "kept in blobs")
    assert wait_trained(client, project_id, iteration_id).status == "Completed"
    client.publish_iteration(project_id, iteration_id, "blob model", PREDICTION_RESOURCE_ID)
    client.export_iteration(project_id, iteration_id, "ONNX")
    export = wait_exported(client, project_id, iteration_id)
    zip_before = requests.get(export.download_uri, timeout=30).content
    first.kill()

    second = start_localvision(tmp_path / "second-empty", TRAINING_KEY, PREDICTION_KEY, *args)
    try:
        endpoint = f"http://127.0.0.1:{second.ports['http']}"
        client = trainer(endpoint)
        assert [(p.id, p.name) for p in client.get_projects()] == [(project_id, "kept in blobs")]
        assert {t.name: t.image_count for t in client.get_tags(project_id)} == {"red": 5, "blue": 5}
        kept = client.get_iteration(project_id, iteration_id)
        assert (kept.status, kept.publish_name) == ("Completed", "blob model")
        result = predictor(endpoint).classify_image(project_id, "blob model", image_bytes(BLUE, seed=4242))
        assert result.predictions[0].tag_name == "blue"
        assert len(client.get_iteration_performance(project_id, iteration_id).per_tag_performance) == 2
        (again,) = client.get_exports(project_id, iteration_id)
        assert again.status == "Done"
        assert requests.get(again.download_uri, timeout=30).content == zip_before
        # The signing key is kept too: a link the first server handed out still works on the second.
        old = urlsplit(export.download_uri)
        assert requests.get(f"{endpoint}{old.path}?{old.query}", timeout=30).content == zip_before
        image = client.get_tagged_images(project_id, take=1)[0]
        assert requests.get(image.original_image_uri, timeout=30).content[:2] == b"\xff\xd8"  # a JPEG
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--store", "blob"), {}, "--blob-container NAME (or $LOCALVISION_BLOB_CONTAINER)"),
        (("--store", "blob", "--blob-container", "c"), {}, "$LOCALVISION_BLOB_ACCOUNT_URL"),
        ((), {"LOCALVISION_STORE": "s3"}, "--store must be one of files, blob"),
    ],
)
def test_an_incomplete_blob_store_is_refused_at_start(tmp_path: Path, args, env, says):
    result = run_cli("--data", str(tmp_path), "--training-key", "t", "--prediction-key", "p", *args, env=env)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr


def test_an_unreachable_account_is_named_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """The CLI in-process, so that its retries can skip the production backoff's seconds."""
    monkeypatch.setattr(blobstore, "RETRY", NO_WAIT_RETRY)
    for name in [name for name in os.environ if name.startswith("LOCALVISION_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(
        "LOCALVISION_BLOB_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    )
    exit_code = cli.main(
        ["--data", str(tmp_path), "--training-key", "t", "--prediction-key", "p", "--port", str(free_port()),
         "--store", "blob", "--blob-container", "state"]
    )  # fmt: skip
    stderr = capsys.readouterr().err
    assert exit_code == 1
    assert stderr.startswith("localvision cannot use blob container 'state': "), stderr
    assert "Check the container name, the connection string or account URL" in stderr
    assert "a2V5" not in stderr and "ServiceRequestError" not in stderr


def test_a_lost_account_answers_503_and_memory_keeps_only_what_was_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(blobstore, "RETRY", NO_WAIT_RETRY)
    store = azurite.start(tmp_path / "azurite", in_memory=True)
    options = blob_options(azurite.connection_string(store.ports), "state")
    server = serve_in_thread(tmp_path / "data", TRAINING_KEY, PREDICTION_KEY, options=options)
    try:
        client = trainer(server.endpoint)
        client.config.retry_policy.retries = 0
        project = client.create_project("stored")
        client.create_tag(project.id, "stored tag")
        store.stop()  # the account goes away
        for call in (
            lambda: client.create_tag(project.id, "never stored"),
            lambda: client.create_project("x"),
        ):
            with pytest.raises(HttpOperationError) as caught:
                call()
            assert caught.value.response.status_code == 503
            assert caught.value.error.code == "ServiceUnavailable"
            assert "did not answer: try again" in caught.value.error.message
        assert [tag.name for tag in client.get_tags(project.id)] == ["stored tag"]
        assert [p.name for p in client.get_projects()] == ["stored"]
    finally:
        server.stop()
        store.stop()


def test_an_account_url_takes_a_token_credential_not_a_key():
    """Entra ID cannot run here: this checks only the client localvision builds for an account URL."""
    client = container_client("state", account_url="https://account.blob.core.windows.net")
    assert client.url == "https://account.blob.core.windows.net/state"
    assert isinstance(client.credential, DefaultAzureCredential)
    assert client.account_name == "account"


def test_the_data_folder_can_go_while_the_server_runs(azurite_conn_str, container, tmp_path):
    server = serve_in_thread(
        tmp_path / "cache", TRAINING_KEY, PREDICTION_KEY, options=blob_options(azurite_conn_str, container)
    )
    try:
        client = trainer(server.endpoint)
        project, tags, _ = trained_tiny_project(client, publish_name="first")
        shutil.rmtree(server.data_dir)  # the cache is lost: images, model files, thumbnails
        image = client.get_tagged_images(project.id, take=1)[0]
        for link in (image.original_image_uri, image.thumbnail_uri):
            assert requests.get(link, timeout=30).content[:2] == b"\xff\xd8"
        upload(client, project.id, tags["blue"], [image_bytes(BLUE, seed=9001)])
        again = wait_trained(client, project.id, client.train_project(project.id).id)
        assert again.status == "Completed", again.training_error_details  # the images came from the blobs
        client.publish_iteration(project.id, again.id, "second", PREDICTION_RESOURCE_ID)
        result = predictor(server.endpoint).classify_image(project.id, "second", image_bytes(BLUE, seed=77))
        assert result.predictions[0].tag_name == "blue"
    finally:
        server.stop()
