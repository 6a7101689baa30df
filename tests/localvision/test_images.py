"""Image uploads, per-image statuses, listings with paging and filters, counts, deletes, metadata."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageTagCreateEntry,
)
from PIL import Image

from tests.conftest import TRAINING_KEY
from tests.localvision.helpers import image_bytes, upload


def solid_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_create_images_from_data_tags_and_reports_ok(training, project):
    tag = training.create_tag(project.id, "red")
    summary = training.create_images_from_data(project.id, image_bytes(seed=1), tag_ids=[tag.id])
    assert summary.is_batch_successful
    (result,) = summary.images
    assert result.status == "OK"
    assert (result.image.width, result.image.height) == (320, 240)
    assert [t.tag_name for t in result.image.tags] == ["red"]
    assert training.get_image_count(project.id) == 1


def test_duplicate_content_is_okduplicate_and_207(training, project, localvision_endpoint):
    data = image_bytes(seed=7)
    first = training.create_images_from_data(project.id, data)
    again = training.create_images_from_data(project.id, data)
    assert again.images[0].status == "OKDuplicate"
    assert again.images[0].image.id == first.images[0].image.id
    assert again.is_batch_successful is False
    response = requests.post(
        f"{localvision_endpoint}/customvision/v3.4-preview/training/projects/{project.id}/images",
        headers={"Training-Key": TRAINING_KEY, "Content-Type": "application/octet-stream"},
        data=data,
        timeout=10,
    )
    assert response.status_code == 207
    assert training.get_image_count(project.id) == 1


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "GIF", "JPEG"])
def test_accepted_formats(training, project, fmt):
    result = training.create_images_from_data(project.id, image_bytes(fmt=fmt, seed=3))
    assert result.images[0].status == "OK"


def test_rejected_images_have_per_image_statuses(training, project):
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buffer, format="WEBP")
    oversized = image_bytes(size=(1500, 1500), fmt="BMP")  # 6.75 MB, over the 6 MB training limit
    assert len(oversized) > 6 * 1024 * 1024
    entries = [
        ImageFileCreateEntry(name="ok.jpg", contents=image_bytes(seed=11)),
        ImageFileCreateEntry(name="notes.txt", contents=b"this is not an image"),
        ImageFileCreateEntry(name="photo.webp", contents=buffer.getvalue()),
        ImageFileCreateEntry(name="huge.bmp", contents=oversized),
        ImageFileCreateEntry(name="wide.png", contents=solid_png(10_300, 500)),
        ImageFileCreateEntry(name="thin.png", contents=solid_png(2_600, 100)),
        ImageFileCreateEntry(name="small.png", contents=solid_png(100, 100)),
        ImageFileCreateEntry(name="badtag.jpg", contents=image_bytes(seed=12), tag_ids=[project.id]),
    ]
    summary = training.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    statuses = {result.source_url: result.status for result in summary.images}
    assert statuses == {
        '"ok.jpg"': "OK",
        '"notes.txt"': "ErrorImageFormat",
        '"photo.webp"': "ErrorImageFormat",
        '"huge.bmp"': "ErrorImageSize",
        '"wide.png"': "ErrorImageDimensions",
        '"thin.png"': "ErrorImageDimensions",
        '"small.png"': "OK",  # under 256 px is accepted: the service upscales it
        '"badtag.jpg"': "ErrorInvalidTag",
    }
    assert summary.is_batch_successful is False
    assert training.get_image_count(project.id) == 2


def test_batch_of_65_is_refused(training, project):
    entries = [
        ImageFileCreateEntry(name=f"{i}.jpg", contents=image_bytes(size=(32, 32), seed=i)) for i in range(65)
    ]
    with pytest.raises(CustomVisionErrorException) as caught:
        training.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert caught.value.response.status_code == 400
    assert caught.value.error.code == "BadRequestExceededBatchSize"
    assert training.get_image_count(project.id) == 0
    summary = training.create_images_from_files(project.id, ImageFileCreateBatch(images=entries[:64]))
    assert summary.is_batch_successful and len(summary.images) == 64


def test_multipart_with_several_parts_and_octet_stream(localvision_endpoint, training, project):
    url = f"{localvision_endpoint}/customvision/v3.3/training/projects/{project.id}/images"
    files = [("imageData", (f"{i}.jpg", image_bytes(seed=20 + i), "image/jpeg")) for i in range(3)]
    response = requests.post(url, headers={"Training-Key": TRAINING_KEY}, files=files, timeout=10)
    assert response.status_code == 200, response.text
    assert [image["sourceUrl"] for image in response.json()["images"]] == ['"0.jpg"', '"1.jpg"', '"2.jpg"']
    response = requests.post(
        url,
        headers={"Training-Key": TRAINING_KEY, "Content-Type": "application/octet-stream"},
        data=image_bytes(seed=30),
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["isBatchSuccessful"] is True
    response = requests.post(
        url, headers={"Training-Key": TRAINING_KEY, "Content-Type": "text/plain"}, data=b"x", timeout=10
    )
    assert (response.status_code, response.json()["code"]) == (415, "UnsupportedMediaType")
    assert training.get_image_count(project.id) == 4


def test_listings_paging_filters_and_counts(training, project):
    red = training.create_tag(project.id, "red")
    blue = training.create_tag(project.id, "blue")
    red_ids = [
        r.image.id
        for r in upload(training, project.id, red.id, [image_bytes(seed=i) for i in range(5)]).images
    ]
    blue_ids = [
        r.image.id
        for r in upload(training, project.id, blue.id, [image_bytes(seed=50 + i) for i in range(3)]).images
    ]
    untagged = training.create_images_from_data(project.id, image_bytes(seed=99)).images[0].image.id
    all_ids = [*red_ids, *blue_ids, untagged]

    assert [i.id for i in training.get_images(project.id, take=50)] == all_ids[::-1]  # newest first
    assert [i.id for i in training.get_images(project.id, order_by="Oldest", take=4, skip=2)] == all_ids[2:6]
    assert [
        i.id for i in training.get_tagged_images(project.id, tag_ids=[blue.id], order_by="Oldest")
    ] == blue_ids
    assert len(training.get_tagged_images(project.id, tag_ids=[red.id, blue.id])) == 8
    assert [i.id for i in training.get_untagged_images(project.id)] == [untagged]
    assert len(training.get_images(project.id, tagging_status="Untagged")) == 1
    assert training.get_image_count(project.id) == 9
    assert training.get_image_count(project.id, tag_ids=[red.id]) == 5
    assert training.get_tagged_image_count(project.id) == 8
    assert training.get_tagged_image_count(project.id, tag_ids=[blue.id]) == 3
    assert training.get_untagged_image_count(project.id) == 1
    assert {i.id for i in training.get_images_by_ids(project.id, image_ids=[untagged, red_ids[0]])} == {
        untagged,
        red_ids[0],
    }
    with pytest.raises(CustomVisionErrorException) as caught:
        training.get_images(project.id, order_by="Sideways")
    assert caught.value.error.code == "BadRequest"

    training.delete_images(project.id, image_ids=red_ids[:2])
    assert training.get_image_count(project.id) == 7
    assert {t.name: t.image_count for t in training.get_tags(project.id)} == {"red": 3, "blue": 3}
    training.delete_images(project.id, all_images=True)
    assert training.get_image_count(project.id) == 0


def test_image_tags_can_be_added_and_removed(training, project):
    tag = training.create_tag(project.id, "red")
    image_id = training.create_images_from_data(project.id, image_bytes(seed=5)).images[0].image.id
    pair = [ImageTagCreateEntry(image_id=image_id, tag_id=tag.id)]
    summary = training.create_image_tags(project.id, tags=pair)
    assert [(c.image_id, c.tag_id) for c in summary.created] == [(image_id, tag.id)]
    assert len(training.create_image_tags(project.id, tags=pair).duplicated) == 1
    assert training.get_tagged_image_count(project.id) == 1
    training.delete_image_tags(project.id, [image_id], [tag.id])
    assert training.get_untagged_image_count(project.id) == 1


def test_an_image_is_either_negative_or_tagged(training, project):
    """The service refuses the Negative tag beside another tag: per image on upload, for the whole call when
    tagging (nothing of a refused call is applied)."""
    red = training.create_tag(project.id, "red")
    negative = training.create_tag(project.id, "none of these", type="Negative")
    both = training.create_images_from_data(project.id, image_bytes(seed=11), tag_ids=[red.id, negative.id])
    assert both.is_batch_successful is False
    assert [image.status for image in both.images] == ["ErrorNegativeAndRegularTagOnSameImage"]
    assert training.get_image_count(project.id) == 0

    negative_id = training.create_images_from_data(project.id, image_bytes(seed=12), tag_ids=[negative.id])
    negative_id = negative_id.images[0].image.id
    red_id = training.create_images_from_data(project.id, image_bytes(seed=13), tag_ids=[red.id]).images[0]
    red_id = red_id.image.id
    pairs = [
        ImageTagCreateEntry(image_id=red_id, tag_id=negative.id),
        ImageTagCreateEntry(image_id=negative_id, tag_id=red.id),
    ]
    with pytest.raises(CustomVisionErrorException) as caught:
        training.create_image_tags(project.id, tags=pairs)
    assert caught.value.response.status_code == 400
    assert caught.value.error.code == "BadRequestNegativeAndRegularTagOnSameImage"
    assert red_id in caught.value.error.message
    assert {t.name: t.image_count for t in training.get_tags(project.id)} == {"red": 1, "none of these": 1}


def test_update_image_metadata(training, project):
    image_id = training.create_images_from_data(project.id, image_bytes(seed=8)).images[0].image.id
    summary = training.update_image_metadata(project.id, [image_id], {"source": "camera-1"})
    assert summary.is_batch_successful
    assert summary.images[0].metadata == {"source": "camera-1"}
    assert training.get_images_by_ids(project.id, [image_id])[0].metadata == {"source": "camera-1"}
    missing = training.update_image_metadata(project.id, ["00000000-0000-0000-0000-000000000000"], {"a": "b"})
    assert missing.is_batch_successful is False
    assert missing.images[0].status == "ErrorImageNotFound"
    with pytest.raises(CustomVisionErrorException) as caught:
        training.update_image_metadata(project.id, [image_id], {f"k{i}": "v" for i in range(11)})
    assert caught.value.error.code == "BadRequestImageMetadataKey"


def test_files_batch_with_bad_base64_is_refused(localvision_endpoint, project):
    response = requests.post(
        f"{localvision_endpoint}/customvision/v3.4-preview/training/projects/{project.id}/images/files",
        headers={"Training-Key": TRAINING_KEY},
        json={"images": [{"name": "x.jpg", "contents": "%%%not base64"}]},
        timeout=10,
    )
    assert (response.status_code, response.json()["code"]) == (400, "BadRequestImageBatch")
    ok = base64.b64encode(image_bytes(seed=4)).decode()
    response = requests.post(
        f"{localvision_endpoint}/customvision/v3.4-preview/training/projects/{project.id}/images/files",
        headers={"Training-Key": TRAINING_KEY},
        json={"images": [{"name": "x.jpg", "contents": ok}]},
        timeout=10,
    )
    assert response.status_code == 200


def test_concurrent_uploads_all_land(training, project):
    tag = training.create_tag(project.id, "red")

    def send(worker: int) -> list[str]:
        return [
            training.create_images_from_data(project.id, image_bytes(seed=1000 + worker * 10 + i), [tag.id])
            .images[0]
            .status
            for i in range(5)
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = [status for result in pool.map(send, range(4)) for status in result]
    assert statuses == ["OK"] * 20
    assert training.get_tag(project.id, tag.id).image_count == 20
