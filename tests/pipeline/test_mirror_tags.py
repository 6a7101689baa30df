"""A tag is created in the project only when one of its folder's images is accepted (real Azurite and
localvision): a folder of non-images leaves no empty tag behind."""

from __future__ import annotations

import pytest

from tests.pipeline.test_mirror import Setup, tiny_jpeg

pytestmark = pytest.mark.slow


def test_a_folder_whose_images_all_fail_creates_no_tag(azurite_conn_str, localvision_endpoint):
    setup = Setup(azurite_conn_str, localvision_endpoint, "tg")
    training = setup.stores["training"]
    training.upload_blob("junk/notes.txt", b"not an image")
    training.upload_blob("junk/broken.jpg", b"\xff\xd8\xff truncated")
    training.upload_blob("apple/a.jpg", tiny_jpeg(1))
    report = setup.mirror()
    assert (report.uploaded, report.failed, report.tags_created) == (1, 2, ["apple"])
    assert sorted(f.code for f in report.failures) == ["NotAnImage", "NotAnImage"]
    assert [t.name for t in setup.client.get_tags(setup.pid)] == ["apple"]
    # once an image of the folder is accepted, its tag is made
    training.upload_blob("junk/real.jpg", tiny_jpeg(2))
    later = setup.mirror()
    assert (later.uploaded, later.tags_created) == (1, ["junk"])
    assert sorted(t.name for t in setup.client.get_tags(setup.pid)) == ["apple", "junk"]


def test_a_tag_whose_images_the_service_did_not_take_is_deleted_again(azurite_conn_str, localvision_endpoint):
    """The folder's one image is a copy of an image already in the project (put there with the SDK): the
    service answers OKDuplicate and does not tag it, so the tag made for the folder goes again."""
    setup = Setup(azurite_conn_str, localvision_endpoint, "tr")
    setup.client.create_images_from_data(setup.pid, tiny_jpeg(5))
    setup.stores["training"].upload_blob("copies/same.jpg", tiny_jpeg(5))
    report = setup.mirror()
    assert (report.uploaded, report.duplicates, report.duplicate_blobs) == (0, 1, ["copies/same.jpg"])
    assert report.tags_created == []
    assert setup.client.get_tags(setup.pid) == []
