"""The blobs extension's Event Grid webhook in devhost, with a source=EventGrid test app, polling off (as in
Azure) and real Azurite: handshake, BlobCreated -> the function once per version, retries and poison,
keys, and clear 4xx answers for wrong requests."""

from __future__ import annotations

import json

import requests
from azure.core.exceptions import ResourceNotFoundError

from tests.devhost.conftest import FUNCTION_KEY, MASTER_KEY, peek_json
from tests.devhost.eventgrid_events import BLOBS_EXTENSION_KEY, blob_event, validation_event, webhook_url
from tests.support.waiting import wait_until

POISON_QUEUE = "webjobs-blobtrigger-poison"
NOTIFY = {"aeg-event-type": "Notification", "x-functions-key": BLOBS_EXTENSION_KEY}


def _start(scenario, devhost, host_json=None):
    watched = scenario.blobs.create_container(scenario.name("watched"))
    scenario.blobs.create_container(scenario.name("outputs"))
    values = {
        "WATCHED": scenario.name("watched"),
        "OUTPUTS": scenario.name("outputs"),
        "DEVHOST_BLOBS_EXTENSION_KEY": BLOBS_EXTENSION_KEY,
        "DEVHOST_EVENTGRID_POLLING": "false",
    }
    return devhost("blob_app", values, host_json), watched


def test_the_subscription_handshake_needs_the_blobs_extension_or_master_key(scenario, devhost):
    host, _ = _start(scenario, devhost)
    url = webhook_url(host.url, "on_blob")
    body = validation_event("512d38b6-c7b8-40c8-89fe-f46f9e9622b6")
    validate = {"aeg-event-type": "SubscriptionValidation"}

    by_code = requests.post(url + f"&code={BLOBS_EXTENSION_KEY}", json=body, headers=validate, timeout=10)
    by_master = requests.post(url, json=body, headers={**validate, "x-functions-key": MASTER_KEY}, timeout=10)

    assert (by_code.status_code, by_code.json()) == (
        200,
        {"validationResponse": body[0]["data"]["validationCode"]},
    )
    assert by_master.json() == {"validationResponse": body[0]["data"]["validationCode"]}
    for key in (None, FUNCTION_KEY, "wrong"):
        headers = {**validate, **({"x-functions-key": key} if key else {})}
        assert requests.post(url, json=body, headers=headers, timeout=10).status_code == 401, key


def test_a_blob_created_event_runs_the_function_once_for_that_version(scenario, devhost):
    host, watched = _start(scenario, devhost)
    watched.upload_blob("unannounced.txt", b"no event for me")
    photo = watched.upload_blob("in/photo.txt", b"hello")
    url = webhook_url(host.url, "on_blob")

    first = requests.post(url, json=[blob_event(photo.url)], headers=NOTIFY, timeout=10)
    assert first.status_code == 202
    assert first.json()["events"][0].endswith("queued")
    wait_until(lambda: scenario.events("finished", "in/photo.txt"), what="the function to finish")
    again = requests.post(url, json=[blob_event(photo.url)], headers=NOTIFY, timeout=10)

    assert again.status_code == 202 and again.json()["events"][0].endswith("queued")
    wait_until(lambda: not _inbox(scenario), what="the second event's batch to be delivered")
    [started] = scenario.events("started", "in/photo.txt")
    assert started["data"] == "hello"
    assert started["etag"] == photo.get_blob_properties().etag
    output = scenario.blobs.get_blob_client(scenario.name("outputs"), "in/photo.txt.txt").download_blob()
    assert output.readall() == b"processed in/photo.txt"
    assert f"New blob detected(EventGrid): {scenario.name('watched')}/in/photo.txt" in host.output()
    assert scenario.events("started", "unannounced.txt") == []  # polling is off: only events run it


def test_an_overwrite_event_runs_the_new_version_and_other_event_types_are_ignored(scenario, devhost):
    host, watched = _start(scenario, devhost)
    url = webhook_url(host.url, "on_blob")
    blob = watched.upload_blob("doc.txt", b"v1")
    requests.post(url, json=[blob_event(blob.url)], headers=NOTIFY, timeout=10)
    wait_until(lambda: scenario.events("finished", "doc.txt"), what="the first version")
    watched.upload_blob("doc.txt", b"v2", overwrite=True)

    deleted = requests.post(
        url, json=[blob_event(blob.url, "Microsoft.Storage.BlobDeleted")], headers=NOTIFY, timeout=10
    )
    created = requests.post(url, json=[blob_event(blob.url)], headers=NOTIFY, timeout=10)

    assert (deleted.status_code, deleted.json()) == (202, {"events": []})
    assert created.status_code == 202
    wait_until(lambda: len(scenario.events("finished", "doc.txt")) == 2, what="the second version")
    assert sorted(e["data"] for e in scenario.events("started", "doc.txt")) == ["v1", "v2"]


def test_a_failing_function_is_retried_then_poisoned_on_the_event_path(scenario, devhost):
    host, watched = _start(scenario, devhost, {"extensions": {"blobs": {"poisonBlobThreshold": 3}}})
    blob = watched.upload_blob("fail-me.txt", b"boom")

    response = requests.post(
        webhook_url(host.url, "on_blob"), json=[blob_event(blob.url)], headers=NOTIFY, timeout=10
    )

    assert response.status_code == 202

    def ours() -> list[dict]:  # the poison queue is the host's, shared with the other tests' apps
        messages = peek_json(scenario.conn_str, POISON_QUEUE)
        return [m for m in messages if m["ContainerName"] == watched.container_name]

    wait_until(ours, 60, "the poison message")
    [message] = ours()
    assert message["BlobName"] == "fail-me.txt"
    assert message["ETag"] == blob.get_blob_properties().etag
    assert len(scenario.events("started", "fail-me.txt")) == 3


def test_wrong_requests_get_clear_4xx_answers(scenario, devhost):
    host, watched = _start(scenario, devhost)
    blob_url = watched.upload_blob("x.txt", b"x").url
    url = webhook_url(host.url, "on_blob")
    deep = ("[" * 1000 + "]" * 1000).encode()
    cases = [
        # (url, headers, body, status, words in the answer)
        (webhook_url(host.url, "nope"), NOTIFY, [blob_event(blob_url)], 404, "No blob-triggered function"),
        (url.split("?")[0], NOTIFY, [blob_event(blob_url)], 400, "functionName"),
        (url, {"x-functions-key": BLOBS_EXTENSION_KEY}, [blob_event(blob_url)], 400, "aeg-event-type"),
        (url, NOTIFY, b"{not json", 400, "not JSON"),
        (url, NOTIFY, deep, 400, "not JSON"),
        (url, NOTIFY, [], 400, "non-empty array"),
        (url, NOTIFY, [{"data": {"url": blob_url}}], 400, "event 0 has no eventType"),
        (url, NOTIFY, [{"eventType": "Microsoft.Storage.BlobCreated", "data": {}}], 400, "no data.url"),
        (url, NOTIFY, [blob_event(blob_url), "text"], 400, "event 1 has no eventType"),
        (url, NOTIFY, [{"eventType": "Microsoft.Storage.BlobCreated", "data": {"url": "http://a/"}}], 400,
         "does not name a blob"),
        (url, {**NOTIFY, "aeg-event-type": "SubscriptionValidation"}, [{"data": {}}], 400, "validationCode"),
    ]  # fmt: skip
    for target, headers, body, status, words in cases:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = requests.post(target, data=data, headers=headers, timeout=10)
        assert (response.status_code, words in response.text) == (status, True), (body, response.text)
    assert requests.get(url, headers=NOTIFY, timeout=10).status_code == 405
    assert scenario.events("started") == []


def test_a_version_that_failed_before_a_restart_is_tried_again_after_it(scenario, devhost):
    """Polling off, nothing lists the container: only the failures recorded in the receipt bring the
    version back after a crash (in Azure the host's internal queue still holds its message)."""
    host, watched = _start(scenario, devhost, {"extensions": {"blobs": {"poisonBlobThreshold": 4}}})
    blob = watched.upload_blob("fail-me.txt", b"boom")
    etag = blob.get_blob_properties().etag.strip('"')
    receipt = scenario.blobs.get_blob_client(
        "azure-webjobs-hosts",
        f"blobreceipts/{scenario.name('host')}/Host.Functions.on_blob/{etag}/{watched.container_name}/fail-me.txt",
    )
    requests.post(webhook_url(host.url, "on_blob"), json=[blob_event(blob.url)], headers=NOTIFY, timeout=10)

    def attempts() -> int:
        try:
            return int(receipt.get_blob_properties().metadata["Attempts"])
        except ResourceNotFoundError:
            return 0

    wait_until(lambda: attempts() >= 2, 30, "two failed attempts in the receipt")
    host.kill()  # the third attempt was due 1 s after the second failed
    assert attempts() == 2 and len(scenario.events("started", "fail-me.txt")) == 2

    host.start()

    def poisoned() -> bool:  # the poison queue is the host's, shared with the other tests' apps
        messages = peek_json(scenario.conn_str, POISON_QUEUE)
        return any(m["ContainerName"] == watched.container_name for m in messages)

    wait_until(poisoned, 60, "this blob's poison message after the restart")
    assert len(scenario.events("started", "fail-me.txt")) == 4
    assert receipt.get_blob_properties().metadata == {"Attempts": "4", "Outcome": "poisoned"}


def test_an_accepted_event_still_runs_after_a_crash_cuts_its_first_attempt(scenario, devhost):
    """The webhook records the version before it answers 202, so an attempt lost with the process (no
    failure recorded yet) runs again after the restart, with polling off."""
    host, watched = _start(scenario, devhost)
    blob = watched.upload_blob("hold-me.txt", b"wait for the gate")
    answer = requests.post(
        webhook_url(host.url, "on_blob"), json=[blob_event(blob.url)], headers=NOTIFY, timeout=10
    )
    assert answer.status_code == 202 and answer.json()["events"][0].endswith("queued")
    wait_until(lambda: scenario.events("started", "hold-me.txt"), what="the first attempt to start")
    host.kill()  # a crash in the middle of the first attempt

    scenario.open_gate("hold-me.txt")
    host.start()
    wait_until(lambda: scenario.events("finished", "hold-me.txt"), 60, "the version to run after the restart")
    assert len(scenario.events("started", "hold-me.txt")) == 2
    assert len(scenario.events("finished", "hold-me.txt")) == 1
    assert host.stop() == 0


def _inbox(scenario) -> list[str]:
    """The Event Grid batches kept and not yet delivered, of every host on this Azurite."""
    hosts = scenario.blobs.get_container_client("azure-webjobs-hosts")
    return [b.name for b in hosts.list_blobs(name_starts_with="eventgrid-inbox/")]


def test_a_batch_is_de_duplicated_by_blob_before_any_storage_call_and_answered_at_once(scenario, devhost):
    """3,000 copies of one event and 20 events of 10 other blobs: one inbox write, then one delivery per
    distinct blob (a receipt each), the function run once per blob."""
    host, watched = _start(scenario, devhost)
    url = webhook_url(host.url, "on_blob")
    hot = watched.upload_blob("hot.txt", b"everyone wants me")
    others = [watched.upload_blob(f"b/{i}.txt", f"blob {i}".encode()) for i in range(10)]
    events = [blob_event(hot.url) for _ in range(3000)] + [blob_event(b.url) for b in others * 2]

    answer = requests.post(url, json=events, headers=NOTIFY, timeout=30)

    assert answer.status_code == 202
    outcomes = answer.json()["events"]
    assert len(outcomes) == 3020
    queued = [o for o in outcomes if o.endswith(" queued")]
    assert sorted(q.split("/", 1)[1] for q in queued) == sorted(
        ["hot.txt queued"] + [f"b/{i}.txt queued" for i in range(10)]
    )
    assert outcomes[1] == f"{watched.container_name}/hot.txt: the same blob as event 0"
    assert outcomes[3010] == f"{watched.container_name}/b/0.txt: the same blob as event 3000"
    wait_until(lambda: len(scenario.events("finished")) == 11, 60, "one run per distinct blob")
    wait_until(lambda: not _inbox(scenario), what="the batch to leave the inbox once delivered")
    receipts = scenario.blobs.get_container_client("azure-webjobs-hosts").list_blobs(
        name_starts_with="blobreceipts/"
    )
    ours = [r.name for r in receipts if f"/{watched.container_name}/" in r.name]
    assert len(ours) == 11  # one receipt write per distinct blob, not per event
    for name in ["hot.txt"] + [f"b/{i}.txt" for i in range(10)]:
        assert len(scenario.events("started", name)) == 1, name
