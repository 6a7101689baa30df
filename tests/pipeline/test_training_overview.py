"""The console's training overview against real Azurite (and localvision for the sync that writes the
summary): one bounded listing, live and exact for a small container, the last sync's counts past it."""

from __future__ import annotations

import json

import pytest
from azure.storage.blob import BlobServiceClient

from shared.console import training
from shared.console.areas import Areas
from shared.mirror import summary
from shared.storage import connect
from tests.pipeline.test_mirror import Setup, tiny_jpeg

pytestmark = pytest.mark.slow


def _areas(setup: Setup, conn_str: str, listings: list[str]) -> Areas:
    """The console's areas, the training container's listing requests counted."""
    areas = Areas(setup.settings, connect(setup.settings))

    def hook(request) -> None:
        if "comp=list" in request.http_request.url:
            listings.append(request.http_request.url)

    service = BlobServiceClient.from_connection_string(conn_str, raw_request_hook=hook)
    areas.containers["training"] = service.get_container_client(setup.settings.training_container)
    return areas


def test_the_overview_lists_one_bounded_page_and_shows_the_last_syncs_counts_past_it(
    azurite_conn_str, localvision_endpoint, monkeypatch
):
    setup = Setup(azurite_conn_str, localvision_endpoint, "ov")
    blobs = setup.stores["training"]
    for index in range(12):
        blobs.upload_blob(f"{'apple' if index % 3 else 'Pear'}/{index:02d}.jpg", tiny_jpeg(index))
    blobs.upload_blob("loose.jpg", tiny_jpeg(99))
    listings: list[str] = []
    areas = _areas(setup, azurite_conn_str, listings)

    small = training.overview(areas)  # 13 blobs, under the page: live and exact
    assert [(t["tag"], t["count"], t["more"]) for t in small["tags"]] == [
        ("apple", 8, False),
        ("Pear", 4, False),
    ]
    assert (small["total"], small["outsideFolders"], small["countsAsOf"]) == (12, 1, None)
    assert small["tags"][1]["samples"] == ["Pear/00.jpg", "Pear/03.jpg", "Pear/06.jpg", "Pear/09.jpg"]

    monkeypatch.setattr(training, "LIVE_PAGE", 5)  # the container is now "large"
    listings.clear()
    unsynced = training.overview(areas)  # never synced: the first page, each count a lower bound
    assert len(listings) == 1
    assert [(t["tag"], t["count"], t["more"]) for t in unsynced["tags"]] == [
        ("apple", 1, True),
        ("Pear", 4, True),
    ]

    report = setup.mirror()  # the sync writes the summary of its listing
    assert report.complete and report.uploaded == 12
    written = json.loads(setup.stores["pipeline"].download_blob(summary.SUMMARY).readall())
    assert {k: v["count"] for k, v in written["folders"].items()} == {"apple": 8, "Pear": 4}
    blobs.upload_blob("aaa-new/new.jpg", tiny_jpeg(50))  # a folder made after the sync
    listings.clear()
    synced = training.overview(areas)  # the last sync listed more than a page: no listing at all
    assert listings == []
    assert [(t["tag"], t["count"], t["more"]) for t in synced["tags"]] == [
        ("apple", 8, False),
        ("Pear", 4, False),
    ]
    assert synced["countsAsOf"] == written["listedAt"] and synced["outsideFolders"] == 1
    assert synced["tags"][1]["samples"] == ["Pear/00.jpg", "Pear/03.jpg", "Pear/06.jpg", "Pear/09.jpg"]

    monkeypatch.setattr(training, "LIVE_PAGE", 13)  # the sync listed a page or less, but it grew since
    grown = training.overview(areas)
    assert len(listings) == 1
    assert [(t["tag"], t["count"], t["more"]) for t in grown["tags"]] == [
        ("aaa-new", 1, True),
        ("apple", 8, False),
        ("Pear", 4, False),
    ]
