"""The Event Grid webhook's durable queue: a batch's blobs are kept in storage before the webhook answers.

Event Grid waits at most 30 s for an answer, then delivers the whole batch again; a batch holds up to
5,000 events. Reading each blob's version and writing its receipt before answering costs two storage
round trips per event, too slow for a large batch. So the webhook writes the batch's distinct blobs to
one inbox blob (``eventgrid-inbox/{hostId}/{functionId}/{time}-{id}.json`` in ``azure-webjobs-hosts``,
next to the receipts), answers, and this module's worker then hands each blob to the listener
(``BlobListener.deliver``: the current version, its receipt, the run) a few at a time. The inbox blob is
deleted when every blob in it was delivered; one left by a stop or a crash is delivered after the next
start, and a delivery that failed (storage unreachable) is tried again after a pause.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from devhost import blobio
from devhost.blob_listener import BlobListener, BlobWatch

log = logging.getLogger("devhost.eventgrid")

INBOX_PREFIX = "eventgrid-inbox/"
DELIVERERS = 8  # blobs of one inbox read and recorded at the same time
RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Batch:
    watch: BlobWatch
    blob: str  # the inbox blob's name
    container: str
    names: tuple[str, ...]


class Inbox:
    def __init__(self, listener: BlobListener, hosts: ContainerClient, host_id: str) -> None:
        self.listener = listener
        self.hosts = hosts
        self.host_id = host_id
        self._queue: queue.Queue[Batch] = queue.Queue()
        self._thread: threading.Thread | None = None

    def _prefix(self, watch: BlobWatch) -> str:
        return f"{INBOX_PREFIX}{self.host_id}/{watch.spec.function_id}/"

    def start(self, watches: list[BlobWatch]) -> None:
        """Start the worker; inbox blobs an earlier run left for ``watches`` are delivered first."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, args=(watches,), name="eventgrid-inbox", daemon=True
            )
            self._thread.start()

    def put(self, watch: BlobWatch, container: str, names: list[str]) -> None:
        """Keep the blobs in storage (one write), then queue them for delivery; raises if storage fails."""
        blobio.ensure_container(self.hosts)
        blob = f"{self._prefix(watch)}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex}.json"
        body = json.dumps({"container": container, "blobs": names}).encode()
        self.hosts.upload_blob(blob, body, overwrite=False)
        self._queue.put(Batch(watch, blob, container, tuple(names)))

    def _run(self, watches: list[BlobWatch]) -> None:
        for watch in watches:
            self._resume(watch)
        with ThreadPoolExecutor(DELIVERERS, thread_name_prefix="eventgrid-deliver") as pool:
            while True:
                batch = self._queue.get()
                try:
                    for _ in pool.map(
                        lambda n, b=batch: self.listener.deliver(b.watch, b.container, n), batch.names
                    ):
                        pass
                except Exception:  # storage unreachable: the inbox blob stays; try the batch again later
                    log.exception("Delivering an Event Grid batch failed; retrying in %.0f s", RETRY_SECONDS)
                    threading.Timer(RETRY_SECONDS, self._queue.put, args=(batch,)).start()
                    continue
                with contextlib.suppress(ResourceNotFoundError):
                    self.hosts.delete_blob(batch.blob)

    def _resume(self, watch: BlobWatch) -> None:
        try:
            names = [item.name for item in self.hosts.list_blobs(name_starts_with=self._prefix(watch))]
        except ResourceNotFoundError:
            return
        for name in names:
            try:
                data = json.loads(self.hosts.download_blob(name).readall())
                batch = Batch(watch, name, str(data["container"]), tuple(str(n) for n in data["blobs"]))
            except Exception:  # only devhost writes these; a damaged one is logged and left for inspection
                log.exception("Event Grid batch %s cannot be read; left in place", name)
                continue
            log.info("Event Grid batch %s left by an earlier run: delivering it", name)
            self._queue.put(batch)
