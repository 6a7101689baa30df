"""The mirror's pure diff (shared.mirror.plan): listing + manifest -> deletes, retags, uploads, writes."""

from __future__ import annotations

import pytest

from shared.mirror.plan import (
    INVALID_TAG_NAME,
    REPLACED,
    Entry,
    Listed,
    diff,
    folder_of,
    has_changes,
)
from shared.mirror.report import SyncReport
from shared.runs.record import SyncCounts

NEG = "_negative"


def blob(name: str, content: str, etag: str | None = None) -> Listed:
    return Listed(name, etag or f"e-{name}-{content}", 100, f"md5:{content}")


def owned(name: str, content: str, image: str, tag: str, etag: str | None = None) -> Entry:
    return Entry(etag or f"e-{name}-{content}", f"md5:{content}", image, tag, (f"t-{tag}",), "OK", owned=True)


def no_hash(blob: Listed) -> str:
    raise AssertionError(f"{blob.name} has a Content-MD5: it must not be downloaded to hash it")


def test_unchanged_blobs_need_nothing_and_no_hashing():
    entries = {"apple/a.jpg": owned("apple/a.jpg", "a", "i1", "apple")}
    plan = diff([blob("apple/a.jpg", "a")], entries, NEG, no_hash)
    assert not plan.has_work and plan.writes == {} and plan.unchanged == 1 and plan.listed == 1


def test_a_move_retags_the_same_image_and_drops_the_old_entry():
    entries = {"apple/a.jpg": owned("apple/a.jpg", "a", "i1", "apple")}
    plan = diff([blob("banana/a.jpg", "a")], entries, NEG, no_hash)
    assert plan.uploads == [] and plan.deletes == []
    [retag] = plan.retags
    assert (retag.image_id, retag.old_tag, retag.old_tag_ids, retag.folder.key) == (
        "i1",
        "apple",
        ("t-apple",),
        "banana",
    )
    assert retag.blob.name == "banana/a.jpg" and retag.source == "apple/a.jpg"
    assert plan.writes == {"apple/a.jpg": None}


def test_a_rename_inside_its_folder_is_a_manifest_write_only():
    entries = {"apple/a.jpg": owned("apple/a.jpg", "a", "i1", "apple")}
    plan = diff([blob("apple/b.jpg", "a")], entries, NEG, no_hash)
    assert not plan.has_work and plan.unchanged == 1
    assert plan.writes["apple/a.jpg"] is None
    assert plan.writes["apple/b.jpg"].image_id == "i1" and plan.writes["apple/b.jpg"].owned


def test_new_content_under_an_existing_name_deletes_the_old_image_and_uploads_the_new():
    entries = {"banana/b.jpg": owned("banana/b.jpg", "old", "i1", "banana")}
    plan = diff([blob("banana/b.jpg", "new")], entries, NEG, no_hash)
    assert [(d.image_id, d.replaced) for d in plan.deletes] == [("i1", True)]
    [upload] = plan.uploads
    assert upload.blob.name == "banana/b.jpg" and upload.replaced and upload.hash == "md5:new"


def test_a_gone_blob_deletes_its_image_but_a_gone_duplicate_deletes_nothing():
    entries = {
        "orange/o.jpg": owned("orange/o.jpg", "o", "i1", "orange"),
        "orange/copy.jpg": Entry("e", "md5:x", "i9", "orange", (), "OKDuplicate", owned=False),
        "orange/bad.jpg": Entry("e", "md5:y", None, "orange", (), "NotAnImage"),
    }
    plan = diff([], entries, NEG, no_hash)
    assert [(d.name, d.image_id, d.replaced) for d in plan.deletes] == [("orange/o.jpg", "i1", False)]
    assert plan.writes == {"orange/copy.jpg": None, "orange/bad.jpg": None}


def test_images_not_uploaded_by_the_pipeline_are_never_deleted_or_retagged():
    # a duplicate of a portal image: the blob points at it but does not own it
    entries = {"apple/p.jpg": Entry("e1", "md5:p", "portal-image", "apple", (), "OKDuplicate", owned=False)}
    plan = diff([blob("banana/p.jpg", "p")], entries, NEG, no_hash)
    assert plan.deletes == [] and plan.retags == []


def test_a_copy_of_content_already_in_the_project_is_a_duplicate_without_a_call():
    entries = {"apple/a.jpg": owned("apple/a.jpg", "a", "i1", "apple")}
    plan = diff([blob("apple/a.jpg", "a"), blob("apple/copy.jpg", "a")], entries, NEG, no_hash)
    assert not plan.has_work and plan.duplicates == 1 and plan.unchanged == 1
    assert plan.writes["apple/copy.jpg"].image_id == "i1" and not plan.writes["apple/copy.jpg"].owned


def test_when_the_owner_goes_a_remaining_copy_inherits_the_image():
    entries = {
        "apple/a.jpg": owned("apple/a.jpg", "a", "i1", "apple"),
        "banana/copy.jpg": Entry("e-banana/copy.jpg-a", "md5:a", "i1", "banana", (), "OKDuplicate"),
    }
    plan = diff([blob("banana/copy.jpg", "a")], entries, NEG, no_hash)
    assert plan.deletes == [] and plan.uploads == []
    [retag] = plan.retags
    assert retag.blob.name == "banana/copy.jpg" and retag.image_id == "i1" and retag.folder.key == "banana"
    assert plan.unchanged == 0  # the copy is counted once, as retagged


def test_folders_match_tags_case_insensitively_after_trimming():
    entries = {"apple/a.jpg": owned("apple/a.jpg", "a", "i1", "apple")}
    plan = diff([blob(" Apple /a.jpg", "a")], entries, NEG, no_hash)
    assert plan.retags == [] and plan.unchanged == 1  # same tag: a rename, no call
    assert folder_of("APPLE/x.jpg", NEG).key == folder_of("apple/y.jpg", NEG).key == "apple"
    assert folder_of("apple/x.jpg", NEG).name == "apple" and folder_of(" Apple /x.jpg", NEG).name == "Apple"


@pytest.mark.parametrize("name", [" /x.jpg", "/x.jpg", "a" * 257 + "/x.jpg"])
def test_a_folder_the_service_refuses_fails_only_its_own_blobs(name):
    plan = diff([blob(name, "x"), blob("apple/a.jpg", "a")], {}, NEG, no_hash)
    assert plan.failures == [(name, INVALID_TAG_NAME)]
    assert [u.blob.name for u in plan.uploads] == ["apple/a.jpg"]
    assert plan.writes[name].status == INVALID_TAG_NAME and plan.writes[name].image_id is None


def test_a_256_character_folder_is_a_valid_tag_name():
    assert folder_of("a" * 256 + "/x.jpg", NEG).valid and not folder_of("a" * 257 + "/x.jpg", NEG).valid


def test_the_negative_folder_is_recognised_whatever_its_case():
    assert folder_of("_Negative/x.jpg", NEG).negative and not folder_of("apple/x.jpg", NEG).negative
    assert folder_of("none/x.jpg", "None").negative


def test_blobs_outside_a_folder_are_ignored():
    plan = diff([blob("README.txt", "r"), blob("apple/", "e")], {}, NEG, no_hash)
    assert plan.ignored == 2 and not plan.has_work


def test_blobs_without_content_md5_are_hashed_only_when_new_or_changed():
    hashed: list[str] = []

    def sha(b: Listed) -> str:
        hashed.append(b.name)
        return f"sha256:{b.name}"

    entries = {"apple/a.jpg": Entry("e1", "sha256:apple/a.jpg", "i1", "apple", ("t",), "OK", owned=True)}
    listing = [Listed("apple/a.jpg", "e1", 1), Listed("apple/new.jpg", "e2", 1)]
    plan = diff(listing, entries, NEG, sha)
    assert hashed == ["apple/new.jpg"] and [u.hash for u in plan.uploads] == ["sha256:apple/new.jpg"]


def test_a_replaced_marker_counts_the_next_upload_as_replaced():
    entries = {"banana/b.jpg": Entry("old", "md5:old", None, "banana", (), REPLACED)}
    plan = diff([blob("banana/b.jpg", "new")], entries, NEG, no_hash)
    assert plan.deletes == [] and [u.replaced for u in plan.uploads] == [True]


def test_a_swap_of_two_files_retags_both_images():
    entries = {
        "apple/x.jpg": owned("apple/x.jpg", "a", "i1", "apple"),
        "banana/y.jpg": owned("banana/y.jpg", "b", "i2", "banana"),
    }
    plan = diff([blob("apple/x.jpg", "b"), blob("banana/y.jpg", "a")], entries, NEG, no_hash)
    assert plan.deletes == [] and plan.uploads == []
    assert sorted((r.blob.name, r.image_id) for r in plan.retags) == [
        ("apple/x.jpg", "i2"),
        ("banana/y.jpg", "i1"),
    ]


def test_entries_from_before_the_mirror_are_owned_when_uploaded_ok():
    old = Entry.from_json({"etag": "e", "imageId": "i1", "tag": "Apple", "status": "OK"})
    dup = Entry.from_json({"etag": "e", "imageId": "i2", "tag": "apple", "status": "OKDuplicate"})
    assert old.owned and old.tag == "apple" and old.hash is None and not dup.owned
    assert Entry.from_json(old.to_json()) == old


def test_has_changes_sees_new_changed_and_gone_blobs_only():
    entries = {"apple/a.jpg": owned("apple/a.jpg", "a", "i1", "apple")}
    assert not has_changes([blob("apple/a.jpg", "a"), blob("README", "r")], entries, NEG)
    assert has_changes([blob("apple/a.jpg", "a"), blob("apple/b.jpg", "b")], entries, NEG)
    assert has_changes([], entries, NEG)
    assert has_changes([blob("apple/a.jpg", "z")], entries, NEG)
    # same bytes written again (new ETag, same Content-MD5): nothing to do
    assert not has_changes([blob("apple/a.jpg", "a", etag="rewritten")], entries, NEG)


def test_a_continued_sync_keeps_its_first_listing_counts_and_adds_the_rest():
    first = SyncReport(listed=10, unchanged=2, ignored=1, uploaded=3, tags_created=["apple"])
    first.fail("apple/x.jpg", "NotAnImage")
    second = SyncReport(
        listed=10, unchanged=6, ignored=1, uploaded=4, tags_created=["apple", "banana"], complete=True
    )
    merged = second.continued(first)
    assert (merged.listed, merged.unchanged, merged.uploaded, merged.failed) == (10, 2, 7, 1)
    assert merged.tags_created == ["apple", "banana"] and merged.complete
    assert merged.failures[0].code == "NotAnImage" and "not an image" in merged.failures[0].message
    assert merged.counts().uploaded == 7 and SyncReport.started(merged.counts())
    assert not SyncReport.started(SyncCounts())
