"""devstack's launchers and photo finder: localvision served in-process answers the real SDK, stops,
and comes back on the same port and data (what a restart in a test relies on); missing photos are a
reason a test turns into a skip."""

from __future__ import annotations

from pathlib import Path

import pytest
from msrest.exceptions import HttpOperationError

from devstack import localvision, photos, vision
from devstack.processes import answers_tcp


def test_in_process_localvision_answers_stops_and_restarts_on_the_same_port_and_data(tmp_path: Path):
    server = localvision.start(tmp_path / "data", "t-key", "p-key", in_process=True)
    port = server.ports["http"]
    endpoint = f"http://127.0.0.1:{port}"
    try:
        project = vision.trainer(endpoint, key="t-key").create_project("kept")
        with pytest.raises(HttpOperationError) as refused:
            vision.trainer(endpoint, key="wrong").get_projects()
        assert refused.value.response.status_code == 401 and refused.value.response.reason == "Access Denied"
    finally:
        server.stop()
    assert not answers_tcp(port)

    again = localvision.start(tmp_path / "data", "t-key", "p-key", port=port, in_process=True)
    try:
        assert again.ports["http"] == port
        assert [p.id for p in vision.trainer(endpoint, key="t-key").get_projects()] == [project.id]
    finally:
        again.stop()


def test_missing_photos_are_a_reason_naming_what_is_missing_and_how_to_get_them(tmp_path: Path):
    (tmp_path / "training-images" / "apple").mkdir(parents=True)
    (tmp_path / "training-images" / "apple" / "a.jpg").write_bytes(b"\xff\xd8")
    reason = photos.missing_reason(tmp_path)
    assert reason is not None and str(tmp_path) in reason
    assert "training-images/banana" in reason and "training-images/apple" not in reason
    assert "test-images" in reason and "DEMO_IMAGES=/path/to/folder make demo" in reason


def test_the_fruit_photos_are_complete_where_demo_images_points(fruit_dir: Path):
    assert photos.missing_reason(fruit_dir) is None
    assert [p.tag for p in photos.training(fruit_dir)].count("banana") == 15
    copies = photos.copies(photos.test_photos(fruit_dir), 4, "c-")
    assert [p.name for p in copies] == [f"c-{i:05d}-IMG_TEST_{i % 3 + 1}.jpg" for i in range(4)]
    assert copies[0].data != copies[3].data  # same photo, distinct bytes: distinct blobs and ETags
