"""Blob triggers by polling, for both source modes.

Event Grid cannot call a local host, so an ``EventGrid``-source trigger is served by the same polling scan
as a ``LogsAndContainerScan`` one. Each poll lists each watched container once and compares the listing
with the receipts held in memory. A blob version (name + ETag) runs once; a failing one is retried,
spaced, up to ``poisonBlobThreshold`` attempts, then a message goes to ``webjobs-blobtrigger-poison``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import azure.functions as func
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from devhost.bindings import blob_value, encode_message, split_path
from devhost.config import BlobOptions, ConfigError, resolve
from devhost.connections import Clients
from devhost.indexing import FunctionSpec
from devhost.invoker import Invoker
from devhost.listing import blob_versions
from devhost.receipts import BlobKey, FunctionReceipts, ReceiptStore

log = logging.getLogger("devhost.blobs")

POISON_QUEUE = "webjobs-blobtrigger-poison"
MIN_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 2.0


def quoted_etag(etag: str) -> str:
    """ETags as the host and the download headers show them: in double quotes (listings drop them)."""
    return f'"{etag.strip(chr(34))}"'


def retry_delay(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: 0.5, 1, 2, 4, ... capped at 8."""
    return min(0.5 * 2 ** (attempt - 1), 8.0)


def compile_blob_path(path: str) -> tuple[str, str, re.Pattern[str]]:
    """``container/prefix{name}...`` -> (container, literal listing prefix, regex over the blob name)."""
    container, blob_pattern = split_path(path)
    if not container or "{" in container:
        raise ConfigError(f"blob trigger path {path!r} must start with a container name")
    prefix = blob_pattern.split("{", 1)[0]
    regex, pos = "", 0
    for match in re.finditer(r"\{([^{}]+)\}", blob_pattern):
        regex += re.escape(blob_pattern[pos : match.start()]) + f"(?P<{match.group(1)}>.+?)"
        pos = match.end()
    tail = blob_pattern[pos:]
    regex += re.escape(tail) if blob_pattern else ".*"
    return container, prefix, re.compile(regex + r"\Z" if blob_pattern else regex)


@dataclass
class BlobWatch:
    """One blob-triggered function and its in-memory state."""

    spec: FunctionSpec
    connection: str | None
    container: str
    prefix: str
    pattern: re.Pattern[str]
    receipts: FunctionReceipts
    active: set[BlobKey] = field(default_factory=set)
    retry_at: dict[BlobKey, float] = field(default_factory=dict)


class BlobListener:
    def __init__(
        self,
        specs: list[FunctionSpec],
        clients: Clients,
        receipts: ReceiptStore | None,
        options: BlobOptions,
        invoker: Invoker,
        executor: Executor,
        message_encoding: str,
    ) -> None:
        if specs and receipts is None:
            raise ValueError("blob triggers need a receipt store")
        self.clients = clients
        self.store: ReceiptStore = receipts  # type: ignore[assignment]  # None only when there are no specs
        self.options = options
        self.invoker = invoker
        self.executor = executor
        self.message_encoding = message_encoding
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watches: list[BlobWatch] = []
        for spec in specs:
            path = resolve(spec.trigger["path"], f"function '{spec.name}' blob trigger path")
            container, prefix, pattern = compile_blob_path(path)
            connection = spec.trigger.get("connection")
            clients.blob(connection)  # fail now, with the setting's name, if the connection is not defined
            source = spec.trigger.get("source") or "LogsAndContainerScan"
            if source == "EventGrid":
                log.info(
                    "Function '%s' uses source=EventGrid; Event Grid cannot reach a local host, so devhost "
                    "polls container '%s' instead",
                    spec.name,
                    container,
                )
            watch = BlobWatch(spec, connection, container, prefix, pattern, self.store.load(spec.function_id))
            self.watches.append(watch)

    def start(self) -> None:
        if self.watches:
            self._thread = threading.Thread(target=self._run, name="blob-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _groups(self) -> dict[tuple[str | None, str, str], list[BlobWatch]]:
        groups: dict[tuple[str | None, str, str], list[BlobWatch]] = {}
        for watch in self.watches:
            groups.setdefault((watch.connection, watch.container, watch.prefix), []).append(watch)
        return groups

    def _run(self) -> None:
        groups = self._groups()
        while not self._stop.is_set():
            started = time.monotonic()
            for (connection, container, prefix), watches in groups.items():
                try:
                    self.poll(connection, container, prefix, watches)
                except Exception:
                    log.exception("Listing container '%s' failed; retrying on the next poll", container)
            elapsed = time.monotonic() - started
            self._stop.wait(min(max(MIN_POLL_SECONDS, 2 * elapsed), MAX_POLL_SECONDS))

    def poll(self, connection: str | None, container: str, prefix: str, watches: list[BlobWatch]) -> None:
        client = self.clients.blob(connection).get_container_client(container)
        now = time.monotonic()
        try:
            for name, etag in blob_versions(client, prefix or None):
                if self._stop.is_set():
                    return
                key: BlobKey = (container, name, quoted_etag(etag))
                for watch in watches:
                    if key in watch.receipts.done or key in watch.active:
                        continue
                    if watch.retry_at.get(key, 0.0) > now:
                        continue
                    match = watch.pattern.match(name)
                    if match is None:
                        continue
                    with self._lock:
                        watch.active.add(key)
                    self.executor.submit(self._attempt, watch, key, match.groupdict())
        except ResourceNotFoundError:
            return  # the container does not exist yet: nothing to trigger on

    def _attempt(self, watch: BlobWatch, key: BlobKey, params: dict[str, str]) -> None:
        try:
            self._try(watch, key, params)
        except Exception:
            log.exception("Recording the outcome for %s/%s failed; it will be tried again", key[0], key[1])

    def _try(self, watch: BlobWatch, key: BlobKey, params: dict[str, str]) -> None:
        spec = watch.spec
        container, name, _etag = key
        attempt = watch.receipts.attempts.get(key, 0) + 1
        try:
            run = self._prepare(watch, key, params)
            if run is None:
                return  # deleted or changed since listed: the next listing decides
            run()
        except Exception:
            if attempt >= self.options.poison_blob_threshold:
                self._poison(watch, key, attempt)
            else:
                delay = retry_delay(attempt)
                log.warning(
                    "Function '%s' failed on %s/%s (attempt %d of %d); retrying in %.1f s",
                    spec.name, container, name, attempt, self.options.poison_blob_threshold, delay,
                )  # fmt: skip
                self.store.write(spec.function_id, key, attempts=attempt, complete=False, outcome="failed")
                watch.receipts.attempts[key] = attempt
                watch.retry_at[key] = time.monotonic() + delay
        else:
            self.store.write(spec.function_id, key, attempts=attempt, complete=True, outcome="succeeded")
            self._finish(watch, key)
        finally:
            with self._lock:
                watch.active.discard(key)

    def _prepare(self, watch: BlobWatch, key: BlobKey, params: dict[str, str]) -> Callable[[], None] | None:
        """Read the blob version that was listed; None when it is gone or has changed since."""
        spec = watch.spec
        container, name, etag = key
        blob = self.clients.blob(watch.connection).get_blob_client(container, name)
        param = spec.trigger["name"]
        annotation = spec.annotation_name(param)
        if "BlobClient" in annotation:
            value: Any = blob
        else:
            try:
                downloader = blob.download_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
            except (ResourceNotFoundError, ResourceModifiedError):
                log.info(
                    "Blob %s/%s changed or was deleted since it was listed; skipping that version",
                    container,
                    name,
                )
                return None
            data = downloader.readall()
            props = downloader.properties
            stream = func.blob.InputStream(
                data=data,
                name=f"{container}/{name}",
                length=len(data),
                uri=blob.url,
                blob_properties=_properties(props),
                metadata=dict(props.metadata or {}),
            )
            value = blob_value(spec, param, data, stream)
        reason = f"New blob detected(LogsAndContainerScan): {container}/{name}"
        values = {**params, "BlobTrigger": f"{container}/{name}", "Uri": blob.url}
        # Path values ({name}) go to parameters of the same name, when the function declares them.
        extra = {key: text for key, text in params.items() if key in spec.parameters and key != param}
        return lambda: self.invoker.invoke(spec, value, values, reason, extra)

    def _finish(self, watch: BlobWatch, key: BlobKey) -> None:
        watch.receipts.done.add(key)
        watch.receipts.attempts.pop(key, None)
        watch.retry_at.pop(key, None)

    def _poison(self, watch: BlobWatch, key: BlobKey, attempts: int) -> None:
        container, name, etag = key
        message = {
            "Type": "BlobTrigger",
            "FunctionId": watch.spec.function_id,
            "BlobType": "BlockBlob",
            "ContainerName": container,
            "BlobName": name,
            "ETag": etag,
        }
        queue = self.clients.queue(watch.connection, for_blob_trigger=True).get_queue_client(POISON_QUEUE)
        with contextlib.suppress(ResourceExistsError):
            queue.create_queue()
        queue.send_message(encode_message(json.dumps(message), self.message_encoding))
        log.error(
            "Function '%s' failed %d times on %s/%s; moved to the poison queue '%s'",
            watch.spec.name, attempts, container, name, POISON_QUEUE,
        )  # fmt: skip
        self.store.write(watch.spec.function_id, key, attempts=attempts, complete=True, outcome="poisoned")
        self._finish(watch, key)


def _properties(props: Any) -> dict[str, Any]:
    settings = props.content_settings
    last_modified: datetime | None = props.last_modified
    return {
        "ETag": props.etag,
        "Length": props.size,
        "ContentType": settings.content_type,
        "ContentEncoding": settings.content_encoding,
        "ContentMD5": settings.content_md5.hex() if settings.content_md5 else None,
        "LastModified": last_modified.isoformat() if last_modified else None,
        "CreatedOn": props.creation_time.isoformat() if props.creation_time else None,
        "BlobType": str(props.blob_type),
    }
