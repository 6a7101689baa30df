"""Image links (originalImageUri, resizedImageUri, thumbnailUri) download without a key, like the service's
SAS links; an unsigned, altered or expired link answers 403."""

from __future__ import annotations

import io
import os
import stat
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from PIL import Image

from localvision.server import serve_in_thread
from localvision.signing import SECRET_FILE, UrlSigner, load_or_create_secret
from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.localvision.helpers import image_bytes, trainer, with_query


@pytest.fixture
def uploaded(training, project):
    """Three tagged images of different formats and sizes: {image id: bytes sent}."""
    tag = training.create_tag(project.id, "red")
    sent = [
        image_bytes(size=(1600, 1200), seed=1),
        image_bytes(size=(320, 240), fmt="PNG", seed=2),
        image_bytes(size=(100, 80), fmt="GIF", seed=3),
    ]
    entries = [
        ImageFileCreateEntry(name=f"{i}", contents=data, tag_ids=[tag.id]) for i, data in enumerate(sent)
    ]
    summary = training.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful
    return {result.image.id: data for result, data in zip(summary.images, sent, strict=True)}


def test_original_links_download_the_exact_bytes_without_a_key(training, project, uploaded):
    images = training.get_tagged_images(project.id)
    assert {image.id for image in images} == set(uploaded)
    for image in images:
        response = requests.get(image.original_image_uri, timeout=10)  # no key header
        assert response.status_code == 200, response.text
        assert response.content == uploaded[image.id]
    media = {requests.get(image.original_image_uri, timeout=10).headers["content-type"] for image in images}
    assert media == {"image/jpeg", "image/png", "image/gif"}


def test_resized_and_thumbnail_links_are_smaller_jpegs(training, project, uploaded):
    for image in training.get_images(project.id):
        for uri, longest in ((image.resized_image_uri, 1024), (image.thumbnail_uri, 200)):
            response = requests.get(uri, timeout=10)
            assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
            with Image.open(io.BytesIO(response.content)) as picture:
                assert picture.format == "JPEG"
                expected = min(longest, max(image.width, image.height))
                assert max(picture.size) == expected, (image.width, image.height, picture.size)


def test_upload_answers_and_listings_by_id_carry_links(training, project, uploaded):
    image_id = next(iter(uploaded))
    (image,) = training.get_images_by_ids(project.id, [image_id])
    assert requests.get(image.original_image_uri, timeout=10).content == uploaded[image_id]
    again = training.create_images_from_data(project.id, uploaded[image_id])  # a duplicate shows the image
    assert requests.get(again.images[0].image.original_image_uri, timeout=10).content == uploaded[image_id]


def test_unsigned_altered_and_expired_links_are_refused(localvision_server, training, project, uploaded):
    image = training.get_tagged_images(project.id)[0]
    uri = image.original_image_uri
    parts = urlsplit(uri)
    origin = f"{parts.scheme}://{parts.netloc}"
    signature = parse_qs(parts.query)["sig"][0]
    other_image = next(i for i in uploaded if i != image.id)
    refused = {
        "unsigned": with_query(uri, se=None, sig=None),
        "no expiry": with_query(uri, se=None),
        "signature altered": with_query(uri, sig=("A" if signature[0] != "A" else "B") + signature[1:]),
        "expiry extended": with_query(uri, se=str(int(time.time()) + 10 * 365 * 86400)),
        "other image, same signature": uri.replace(image.id, other_image),
        "other kind, same signature": uri.replace("/original?", "/thumbnail?"),
        "expired": origin + localvision_server.signer.sign(parts.path, expires=int(time.time()) - 5),
    }
    for case, link in refused.items():
        response = requests.get(link, timeout=10)
        assert response.status_code == 403, case
        assert response.json()["code"] == "AuthenticationFailed", case
        assert "expired" in response.json()["message"], case
    assert requests.get(uri, timeout=10).status_code == 200  # the real link still works


def test_a_key_does_not_replace_the_signature(localvision_endpoint, training, project, uploaded):
    image = training.get_tagged_images(project.id)[0]
    unsigned = with_query(image.original_image_uri, se=None, sig=None)
    for header in ({"Training-Key": TRAINING_KEY}, {"Prediction-Key": PREDICTION_KEY}):
        assert requests.get(unsigned, headers=header, timeout=10).status_code == 403


def test_a_deleted_image_link_answers_not_found(training, project, uploaded):
    image = training.get_tagged_images(project.id)[0]
    training.delete_images(project.id, [image.id])
    response = requests.get(image.original_image_uri, timeout=10)
    assert (response.status_code, response.json()["code"]) == (404, "NotFoundImage")


def test_links_survive_a_restart_and_the_secret_is_private(tmp_path):
    data = tmp_path / "data"
    first = serve_in_thread(data, TRAINING_KEY, PREDICTION_KEY)
    try:
        client = trainer(first.endpoint)
        project = client.create_project("links")
        photo = image_bytes(seed=77)
        client.create_images_from_data(project.id, photo)
        uri = client.get_images(project.id)[0].original_image_uri
        port = first.port
    finally:
        first.stop()
    second = serve_in_thread(data, TRAINING_KEY, PREDICTION_KEY, port=port)
    try:
        assert requests.get(uri, timeout=10).content == photo
    finally:
        second.stop()
    secret_file = data / SECRET_FILE
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    text = secret_file.read_text()
    assert TRAINING_KEY not in text and PREDICTION_KEY not in text


def test_signer_checks_path_expiry_and_secret(tmp_path):
    now = [1_000_000.0]
    signer = UrlSigner(load_or_create_secret(tmp_path), ttl_seconds=60, clock=lambda: now[0])
    link = signer.sign("/localvision/files/x")
    path, _, query = link.partition("?")
    fields = {key: values[0] for key, values in parse_qs(query).items()}
    assert fields["se"] == str(1_000_060)
    assert signer.verify(path, fields)
    assert not signer.verify("/localvision/files/y", fields)
    now[0] += 61
    assert not signer.verify(path, fields)
    other = UrlSigner(bytes(32), clock=lambda: 0.0)
    assert not other.verify(path, fields)
    with pytest.raises(ValueError):
        UrlSigner(b"short")


def test_malformed_expiry_and_signature_fields_answer_403_not_500(training, project, uploaded):
    """A superscript digit passes ``str.isdigit`` but not ``int``; 5,000 digits pass Python's int-string
    limit; a non-ASCII signature breaks ``hmac.compare_digest``: each is a bad link, 403 in JSON."""
    uri = training.get_tagged_images(project.id)[0].original_image_uri
    refused = {
        "superscript digit": with_query(uri, se="²"),
        "arabic-indic digits": with_query(uri, se="١٢٣٤٥٦٧٨٩٠"),
        "5,000 digits": with_query(uri, se="9" * 5000),
        "13 digits": with_query(uri, se="9" * 13),
        "negative": with_query(uri, se="-1"),
        "non-ASCII signature": with_query(uri, sig="é" * 43),
    }
    for case, link in refused.items():
        response = requests.get(link, timeout=10)
        assert response.status_code == 403, case
        assert response.headers["content-type"].startswith("application/json"), case
        assert response.json()["code"] == "AuthenticationFailed", case
