"""Blob triggers through devhost against real Azurite: once per blob version, retries and poison, receipts."""

from __future__ import annotations

from azure.storage.blob import ContentSettings

from tests.devhost.conftest import peek_json
from tests.support.waiting import wait_until

POISON_QUEUE = "webjobs-blobtrigger-poison"


def _blob_values(scenario) -> dict[str, str]:
    return {"WATCHED": scenario.name("watched"), "OUTPUTS": scenario.name("outputs")}


def _setup(scenario):
    watched = scenario.blobs.create_container(scenario.name("watched"))
    scenario.blobs.create_container(scenario.name("outputs"))
    return watched


def test_a_dropped_blob_runs_the_function_once_with_its_content_and_properties(scenario, devhost):
    watched = _setup(scenario)
    devhost("blob_app", _blob_values(scenario))
    uploaded = watched.upload_blob(
        "in/photo.txt",
        b"hello",
        content_settings=ContentSettings(content_type="text/plain"),
        metadata={"k": "v"},
    )
    wait_until(lambda: scenario.events("finished", "in/photo.txt"), what="the function to finish")
    # A later blob proves that further polls happened without re-running the first one.
    watched.upload_blob("later.txt", b"x")
    wait_until(lambda: scenario.events("finished", "later.txt"), what="the second blob")

    [started] = scenario.events("started", "in/photo.txt")
    assert started["blob_name"] == f"{scenario.name('watched')}/in/photo.txt"
    assert started["data"] == "hello" and started["length"] == 5
    assert started["etag"] == uploaded.get_blob_properties().etag
    assert started["content_type"] == "text/plain"
    assert started["metadata"] == {"k": "v"}
    output = (
        scenario.blobs.get_blob_client(scenario.name("outputs"), "in/photo.txt.txt").download_blob().readall()
    )
    assert output == b"processed in/photo.txt"


def test_an_overwritten_blob_runs_again_for_its_new_etag(scenario, devhost):
    watched = _setup(scenario)
    devhost("blob_app", _blob_values(scenario))
    watched.upload_blob("doc.txt", b"v1")
    wait_until(lambda: scenario.events("finished", "doc.txt"), what="the first version")
    watched.upload_blob("doc.txt", b"v2", overwrite=True)
    wait_until(lambda: len(scenario.events("finished", "doc.txt")) == 2, what="the second version")
    assert sorted(e["data"] for e in scenario.events("started", "doc.txt")) == ["v1", "v2"]


def test_a_failing_function_is_tried_five_times_then_poisoned(scenario, devhost):
    watched = _setup(scenario)
    host = devhost("blob_app", _blob_values(scenario))
    etag = watched.upload_blob("fail-me.txt", b"bad").get_blob_properties().etag

    def poisoned():
        for body in peek_json(scenario.conn_str, POISON_QUEUE):
            if body["ContainerName"] == scenario.name("watched"):
                return body
        return None

    body = wait_until(poisoned, timeout=60, what="the poison message")
    assert body == {
        "Type": "BlobTrigger",
        "FunctionId": "Host.Functions.on_blob",
        "BlobType": "BlockBlob",
        "ContainerName": scenario.name("watched"),
        "BlobName": "fail-me.txt",
        "ETag": etag,
    }
    assert len(scenario.events("started", "fail-me.txt")) == 5
    assert "failing on purpose" in host.output()
    assert "moved to the poison queue" in host.output()


def test_poison_threshold_comes_from_host_json(scenario, devhost):
    watched = _setup(scenario)
    devhost("blob_app", _blob_values(scenario), {"extensions": {"blobs": {"poisonBlobThreshold": 2}}})
    watched.upload_blob("fail-twice.txt", b"bad")
    wait_until(
        lambda: any(m["BlobName"] == "fail-twice.txt" for m in peek_json(scenario.conn_str, POISON_QUEUE)),
        what="the poison message",
    )
    assert len(scenario.events("started", "fail-twice.txt")) == 2


def test_a_restart_skips_finished_blobs_and_runs_unfinished_ones(scenario, devhost):
    watched = _setup(scenario)
    values = _blob_values(scenario)
    host = devhost("blob_app", values)
    watched.upload_blob("done.txt", b"1")
    wait_until(lambda: scenario.events("finished", "done.txt"), what="the first blob")
    watched.upload_blob("hold-me.txt", b"2")  # waits for a gate that is not open yet
    wait_until(lambda: scenario.events("started", "hold-me.txt"), what="the held blob to start")
    host.kill()  # a crash while hold-me.txt is running

    scenario.open_gate("hold-me.txt")
    host.start()
    wait_until(lambda: scenario.events("finished", "hold-me.txt"), what="the unfinished blob to run again")
    watched.upload_blob("after.txt", b"3")
    wait_until(lambda: scenario.events("finished", "after.txt"), what="a blob after the restart")

    assert len(scenario.events("started", "done.txt")) == 1
    assert len(scenario.events("started", "hold-me.txt")) == 2
    assert len(scenario.events("finished", "hold-me.txt")) == 1
    assert host.stop() == 0
