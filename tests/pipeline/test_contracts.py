"""The typed contracts without a service: settings as one frozen object, the error catalogue, the
published schemas, the document-ordering rule, and the quick test's refusals of bad JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from shared import api, catalogue, contracts, schemas
from shared.classify.classifier import replaces
from shared.contracts import decode
from shared.documents import MAX_BLOB_NAME, BlobInfo, document_name
from shared.runs.record import RunRecord, Status, Step, SyncFailure, Trigger
from shared.runs.store import new_record
from shared.settings.declared import SETTINGS
from shared.settings.definitions import Settings, SettingsError, load_settings, setting_attributes
from tests.pipeline.contract_checks import check_problem, check_run
from tests.pipeline.test_units import VALID

# --- settings --------------------------------------------------------------------------------------


def test_settings_are_one_frozen_typed_object_with_an_attribute_per_setting():
    assert setting_attributes() == {s.attr for s in SETTINGS if s.name != "PIPELINE_STORAGE"}
    settings = load_settings({**VALID, "KEEP_ITERATIONS": "7", "GATE_MIN_AP": "0.5"})
    assert settings.keep_iterations == 7 and settings.gate_min_ap == 0.5
    assert settings.storage_connection_string == "UseDevelopmentStorage=true"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.keep_iterations = 1  # type: ignore[misc]
    assert hash(settings) == hash(load_settings({**VALID, "KEEP_ITERATIONS": "7", "GATE_MIN_AP": "0.5"}))
    assert "k1" not in repr(settings) and "k2" not in repr(settings)  # keys never shown
    assert not hasattr(Settings, "__getitem__")


@pytest.mark.parametrize("name", ["CUSTOMVISION_TRAINING_KEY", "PIPELINE_STORAGE__blobServiceUri"])
def test_an_unresolved_key_vault_reference_stops_start_up_naming_the_setting_and_the_role(name):
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/training-key/)"
    env = {**VALID, name: reference}
    if name.startswith("PIPELINE_STORAGE__"):
        env.pop("PIPELINE_STORAGE")
        env["PIPELINE_STORAGE__queueServiceUri"] = "https://acct.queue.core.windows.net"
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert f"{name} still reads @Microsoft.KeyVault(" in message
    assert "managed identity" in message and "Key Vault Secrets User" in message
    assert "kv.vault.azure.net" not in message


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        ("0 0 3 * * *", True),
        ("0 */5 * * * 1-5", True),
        ("0 0 3 * *", False),  # five fields: the timer trigger needs six
        ("0 0 25 * * *", False),  # hour 25
        ("0 61 * * * *", False),  # minute 61
        ("a b c d e f", False),
    ],
)
def test_schedules_are_validated_field_by_field(schedule, valid):
    env = {**VALID, "RETRAIN_SCHEDULE": schedule}
    if valid:
        assert load_settings(env).retrain_schedule == schedule
    else:
        with pytest.raises(SettingsError, match="RETRAIN_SCHEDULE"):
            load_settings(env)


def test_the_retrain_queue_leaves_room_for_the_poison_suffix():
    with pytest.raises(SettingsError, match="RETRAIN_QUEUE"):
        load_settings({**VALID, "RETRAIN_QUEUE": "q" * 57})
    assert load_settings({**VALID, "RETRAIN_QUEUE": "q" * 56}).retrain_queue == "q" * 56


# --- the error catalogue ---------------------------------------------------------------------------


def test_every_catalogue_message_says_what_to_do_and_has_only_named_placeholders():
    for entry in catalogue.CATALOGUE.values():
        assert ":" in entry.message, f"{entry.code}: say what happened, then what to do"
        values = {name: "X" for name in entry.placeholders}
        assert catalogue.matches(entry.code, catalogue.text(entry.code, **values))
    with pytest.raises(KeyError):
        catalogue.text("ImageTooSmall", width=1)  # a missing placeholder is a bug, not a message
    with pytest.raises(TypeError):
        catalogue.text("RetriesExhausted", extra=object())  # type: ignore[arg-type]
    assert not catalogue.matches("NotAnImage", "The file is not an image (cannot identify <_io.BytesIO>)")


def test_fetch_error_codes_are_in_the_catalogue():
    assert {"UrlNotAllowed", "UrlNotResolvable", "UrlFetchFailed", "ImageTooLarge"} <= set(
        catalogue.CATALOGUE
    )


# --- the published schemas -------------------------------------------------------------------------


def test_the_published_schemas_are_generated_from_the_types():
    for name, schema in schemas.published().items():
        path = schemas.SCHEMA_DIR / name
        assert path.is_file(), f"docs/schemas/{name} is missing: run python -m shared.schemas write"
        assert path.read_text() == schemas.rendered(schema), (
            f"docs/schemas/{name} drifted from the types: run python -m shared.schemas write"
        )


def test_a_run_record_round_trips_and_validates():
    record = new_record("20261125T031500123Z-1a2b3c4d", Trigger.IMPORT)
    record.status, record.step = Status.RUNNING, Step.TRAIN
    record.sync.failures.append(SyncFailure("a/b.jpg", "NotAnImage", catalogue.text("NotAnImage")))
    data = check_run(json.loads(json.dumps(record.as_json())))
    assert data["schemaVersion"] == 2 and data["export"] is None and data["trigger"] == "import"
    assert set(data["sync"]) == {
        "listed", "uploaded", "retagged", "replaced", "deleted", "unchanged", "duplicates", "failed",
        "ignored", "tagsCreated", "failures", "recovered", "duplicateBlobs", "warnings",
    }  # fmt: skip
    assert decode(RunRecord, data) == record
    assert "done" not in data and "needsTraining" not in data  # derived, not stored
    with pytest.raises(contracts.ContractError, match="status"):
        decode(RunRecord, {**data, "status": "exploded"})


def test_a_run_record_of_the_previous_version_is_still_read():
    record = new_record("20261125T031500123Z-1a2b3c4d", Trigger.HTTP)
    written = check_run(json.loads(json.dumps(record.as_json())))
    older = check_run({**written, "schemaVersion": 1})  # as stored before the console's actions by hand
    assert decode(RunRecord, older).run_id == record.run_id
    with pytest.raises(contracts.ContractError, match="schemaVersion"):
        decode(RunRecord, {**written, "schemaVersion": 3})


def test_a_check_catches_a_leak_and_a_message_not_from_the_catalogue():
    with pytest.raises(AssertionError, match="catalogue"):
        check_problem({"error": {"code": "BadJson", "message": "Expecting value: line 1 column 1 (char 0)"}})
    with pytest.raises(AssertionError, match="must not reach a user"):
        leaked = catalogue.text("CustomVisionRefused", serviceCode="KeyError", status=400)
        check_problem({"error": {"code": "CustomVisionRefused", "message": leaked}})


# --- the order of result documents ---------------------------------------------------------------

OLD = BlobInfo("images", "r.jpg", '"0x1"', 23_252_654, "2026-11-30T12:00:00Z")
NEW = BlobInfo("images", "r.jpg", '"0x2"', 156_456, "2026-11-30T12:00:01Z")


def stored(blob: BlobInfo, status: str = "ok", retryable: bool = False) -> dict:
    doc = {"status": status, "blob": dataclasses.asdict(blob) | {"lastModified": blob.last_modified}}
    if status == "error":
        doc["error"] = {"code": "X", "message": "x", "retryable": retryable}
    return doc


def never_asked() -> str:
    raise AssertionError("the last-modified times decide: no need to read the blob")


def test_a_newer_version_replaces_an_older_document_whichever_finishes_first():
    # the old run finishes first, then the new one: the new document replaces the old
    assert replaces(NEW, stored(OLD), never_asked) is True
    # the new run finishes first, then the old one: the old document does not replace the new
    assert replaces(OLD, stored(NEW), never_asked) is False


def test_when_the_times_cannot_tell_the_blobs_current_etag_decides():
    same_second = dataclasses.replace(NEW, last_modified=OLD.last_modified)
    assert replaces(same_second, stored(OLD), lambda: NEW.etag) is True
    assert replaces(OLD, stored(same_second), lambda: NEW.etag) is False
    no_time = dataclasses.replace(OLD, last_modified=None)
    assert replaces(no_time, stored(NEW), lambda: NEW.etag) is False
    assert replaces(no_time, stored(NEW), lambda: None) is False  # the blob is gone


def test_the_same_version_replaces_only_a_retryable_error():
    assert replaces(NEW, stored(NEW), never_asked) is False
    assert replaces(NEW, stored(NEW, "error", retryable=False), never_asked) is False
    assert replaces(NEW, stored(NEW, "error", retryable=True), never_asked) is True


def test_a_result_name_over_the_blob_name_limit_gets_a_short_hashed_name():
    fits = "a" * (MAX_BLOB_NAME - len(".json"))
    assert document_name(fits) == fits + ".json"
    long = "b" * (MAX_BLOB_NAME - len(".json") + 1)
    short = document_name(long)
    assert short == document_name(long) and short.startswith("long-names/") and short.endswith(".json")
    assert len(short) == len("long-names/") + 64 + len(".json") and short != document_name(long + "c")


# --- the quick test's bad JSON -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[" * 1000 + b"]" * 1000,
        b'{"url":' * 100_000,
        b"\xff\xfe{}",
        b"[]",
        b'{"url": 5}',
        b'{"url": ""}',
    ],
)
def test_unparsable_too_deep_or_wrong_json_is_400_bad_json(body):
    settings = load_settings(VALID)
    reply = api.quick_test(None, settings, body, "application/json")  # type: ignore[arg-type]
    assert reply.status == 400
    assert check_problem(reply.body)["error"]["code"] == "BadJson"
