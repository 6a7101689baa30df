"""The blob listener does not list a container while the worker pool already has a backlog: a version
listed then would only wait behind the queued ones. Listing resumes once the backlog drains."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

from devhost import blob_listener
from devhost.blob_listener import BlobListener, BlobWatch
from devhost.config import BlobOptions
from devhost.connections import Clients
from devhost.receipts import FunctionReceipts


def listener_with_one_watch(parallelism: int) -> tuple[BlobListener, BlobWatch, list[float]]:
    listener = BlobListener([], Clients(), None, BlobOptions(parallelism), None, None, "base64")  # type: ignore[arg-type]
    spec = SimpleNamespace(name="f", function_id="app.f")
    watch = BlobWatch(spec, None, "images", "", re.compile(".*"), FunctionReceipts())  # type: ignore[arg-type]
    listener.watches.append(watch)
    polls: list[float] = []
    listener.poll = lambda *args: polls.append(time.monotonic())  # type: ignore[method-assign]
    return listener, watch, polls


def run_for(listener: BlobListener, seconds: float) -> None:
    thread = threading.Thread(target=listener._run)
    thread.start()
    time.sleep(seconds)
    listener._stop.set()
    thread.join(timeout=5)
    listener._stop.clear()


def test_no_listing_while_two_versions_per_worker_are_queued_or_running(monkeypatch):
    monkeypatch.setattr(blob_listener, "MIN_POLL_SECONDS", 0.05)
    listener, watch, polls = listener_with_one_watch(parallelism=2)
    watch.active.update(("images", f"p{i}.jpg", f'"{i}"') for i in range(4))  # 2 per worker
    run_for(listener, 0.4)
    assert polls == []
    watch.active.discard(("images", "p0.jpg", '"0"'))  # 3 left: below the backlog limit of 4
    run_for(listener, 0.4)
    assert len(polls) >= 3  # listing every MIN_POLL_SECONDS again


def test_without_a_backlog_the_container_is_listed_every_interval(monkeypatch):
    monkeypatch.setattr(blob_listener, "MIN_POLL_SECONDS", 0.05)
    listener, _, polls = listener_with_one_watch(parallelism=4)
    run_for(listener, 0.4)
    assert len(polls) >= 3
