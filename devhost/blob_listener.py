"""Blob triggers: by polling, and by Event Grid events posted to the blobs webhook.

Event Grid cannot reach a local host on its own, so an ``EventGrid``-source trigger is served by the same
polling scan as a ``LogsAndContainerScan`` one, unless ``DEVHOST_EVENTGRID_POLLING=false``: then only
BlobCreated events posted to ``/runtime/webhooks/blobs`` (devhost.eventgrid) fire it, as in Azure. Each
poll lists each watched container once and compares the listing with the receipts held in memory. Either
way a blob version (name + ETag) runs once; a failing one is retried, spaced, up to
``poisonBlobThreshold`` attempts, then a message goes to ``webjobs-blobtrigger-poison``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from devhost import blobio, tracing
from devhost.bindings import blob_value, encode_message, split_path
from devhost.config import BlobOptions, ConfigError, resolve
from devhost.connections import Clients
from devhost.indexing import FunctionSpec
from devhost.invoker import Invoker
from devhost.listing import blob_versions
from devhost.receipts import BlobKey, FunctionReceipts, ReceiptStore

log = logging.getLogger("devhost.blobs")

POISON_QUEUE = "webjobs-blobtrigger-poison"
EVENTGRID_POLLING_SETTING = "DEVHOST_EVENTGRID_POLLING"  # "false": EventGrid-source triggers by events only
MIN_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 2.0
# No listing while this many versions per worker are queued or running: a version listed now would only
# wait behind them, and each listing of a large container costs CPU (the listing resumes as they drain).
BACKLOG_PER_WORKER = 2


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
    source: str = "LogsAndContainerScan"
    polled: bool = True
    active: set[BlobKey] = field(default_factory=set)
    retry_at: dict[BlobKey, float] = field(default_factory=dict)
    # Versions delivered by events and not finished: retried from here when the watch is not polled.
    pending: dict[BlobKey, dict[str, str]] = field(default_factory=dict)


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
        poll_eventgrid = os.environ.get(EVENTGRID_POLLING_SETTING, "true").strip().lower() != "false"
        for spec in specs:
            path = resolve(spec.trigger["path"], f"function '{spec.name}' blob trigger path")
            container, prefix, pattern = compile_blob_path(path)
            connection = spec.trigger.get("connection")
            clients.blob(connection)  # fail now, with the setting's name, if the connection is not defined
            source = str(spec.trigger.get("source") or "LogsAndContainerScan")
            polled = source != "EventGrid" or poll_eventgrid
            if not polled:
                log.info(
                    "Function '%s' uses source=EventGrid and %s=false: it runs on BlobCreated events posted "
                    "to /runtime/webhooks/blobs?functionName=Host.Functions.%s only",
                    spec.name, EVENTGRID_POLLING_SETTING, spec.name,
                )  # fmt: skip
            elif source == "EventGrid":
                log.info(
                    "Function '%s' uses source=EventGrid: devhost polls container '%s' and also takes "
                    "BlobCreated events on /runtime/webhooks/blobs",
                    spec.name,
                    container,
                )
            receipts = self.store.load(spec.function_id)
            watch = BlobWatch(spec, connection, container, prefix, pattern, receipts, source, polled)
            if not polled:
                _resume_unfinished(watch)
            self.watches.append(watch)

    def eventgrid_watch(self, function_name: str) -> BlobWatch | None:
        """The EventGrid-source trigger named ``function_name`` (case-insensitive), if there is one."""
        for watch in self.watches:
            if watch.source == "EventGrid" and watch.spec.name.lower() == function_name.lower():
                return watch
        return None

    def deliver(self, watch: BlobWatch, container: str, name: str) -> str:
        """Run ``watch``'s function for the current version of a blob an event names; what happened, in words.

        The same receipts as polling: a version already done or running is not run again.
        """
        match = watch.pattern.match(name) if container == watch.container else None
        if match is None:
            return f"{container}/{name} is not under the trigger path {watch.container}/{watch.prefix}..."
        client = self.clients.blob(watch.connection).get_blob_client(container, name)
        try:
            etag = client.get_blob_properties().etag
        except ResourceNotFoundError:
            return f"{container}/{name} does not exist (any more)"
        except HttpResponseError as error:
            if (error.status_code or 500) >= 500:
                raise
            return f"{container}/{name} cannot be read (HTTP {error.status_code})"
        key: BlobKey = (container, name, quoted_etag(etag))
        with self._lock:
            if key in watch.receipts.done or key in watch.active:
                return f"{container}/{name} version {key[2]} has already run or is running"
            watch.active.add(key)
            watch.pending[key] = match.groupdict()
        if not watch.polled:
            try:
                self._accept(watch, key)
            except Exception:
                with self._lock:
                    watch.active.discard(key)
                    watch.pending.pop(key, None)
                raise  # the inbox keeps the batch and delivers it again later (devhost.inbox)
        self.executor.submit(self._attempt, watch, key, match.groupdict())
        return f"{container}/{name} version {key[2]} queued"

    def _accept(self, watch: BlobWatch, key: BlobKey) -> None:
        """Record an event's version before the webhook acknowledges it (an incomplete receipt), so that a
        restart finds it again, as the host's internal queue would keep its message."""
        attempts = watch.receipts.attempts.get(key, 0)
        self.store.write(watch.spec.function_id, key, attempts=attempts, complete=False, outcome="queued")
        watch.receipts.attempts[key] = attempts

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
            if not watch.polled:
                continue
            groups.setdefault((watch.connection, watch.container, watch.prefix), []).append(watch)
        return groups

    def _run(self) -> None:
        groups = self._groups()
        while not self._stop.is_set():
            started = time.monotonic()
            for (connection, container, prefix), watches in groups.items():
                if self._backlog() >= BACKLOG_PER_WORKER * self.options.max_degree_of_parallelism:
                    break
                try:
                    self.poll(connection, container, prefix, watches)
                except Exception:
                    log.exception("Listing container '%s' failed; retrying on the next poll", container)
            self._retry_events()
            elapsed = time.monotonic() - started
            self._stop.wait(min(max(MIN_POLL_SECONDS, 2 * elapsed), MAX_POLL_SECONDS))

    def _backlog(self) -> int:
        """Versions handed to the worker pool and not finished, over every watch."""
        with self._lock:
            return sum(len(watch.active) for watch in self.watches)

    def poll(self, connection: str | None, container: str, prefix: str, watches: list[BlobWatch]) -> None:
        client = self.clients.blob(connection).get_container_client(container)
        now = time.monotonic()
        try:
            for name, etag in blob_versions(client, prefix or None):
                if self._stop.is_set():
                    return
                key: BlobKey = (container, name, quoted_etag(etag))
                for watch in watches:
                    if key in watch.receipts.done or watch.retry_at.get(key, 0.0) > now:
                        continue
                    match = watch.pattern.match(name)
                    if match is None:
                        continue
                    with self._lock:  # an event may deliver the same version at the same time
                        if key in watch.receipts.done or key in watch.active:
                            continue
                        watch.active.add(key)
                    self.executor.submit(self._attempt, watch, key, match.groupdict())
        except ResourceNotFoundError:
            return  # the container does not exist yet: nothing to trigger on

    def _retry_events(self) -> None:
        """Retry event-delivered versions of unpolled watches when due (polling retries the others)."""
        now = time.monotonic()
        for watch in self.watches:
            if watch.polled:
                continue
            with self._lock:
                due = [
                    (key, params)
                    for key, params in watch.pending.items()
                    if key not in watch.active and watch.retry_at.get(key, 0.0) <= now
                ]
                watch.active.update(key for key, _ in due)
            for key, params in due:
                self.executor.submit(self._attempt, watch, key, params)

    def _attempt(self, watch: BlobWatch, key: BlobKey, params: dict[str, str]) -> None:
        try:
            with tracing.invocation(watch.spec.name, watch.spec.trigger_type, **tracing.blob(*key)):
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
                watch.pending.pop(key, None)
                return  # deleted or changed since listed: the next listing (or event) decides
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

    @tracing.step("download")
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
                downloaded = blobio.download(blob, etag)
            except (ResourceNotFoundError, ResourceModifiedError):
                log.info(
                    "Blob %s/%s changed or was deleted since it was listed; skipping that version",
                    container,
                    name,
                )
                return None
            data = downloaded.data
            stream = func.blob.InputStream(
                data=data,
                name=f"{container}/{name}",
                length=len(data),
                uri=blob.url,
                blob_properties=downloaded.properties,
                metadata=downloaded.metadata,
            )
            value = blob_value(spec, param, data, stream)
        source = "EventGrid" if key in watch.pending else "LogsAndContainerScan"
        reason = f"New blob detected({source}): {container}/{name}"
        values = {**params, "BlobTrigger": f"{container}/{name}", "Uri": blob.url}
        # Path values ({name}) go to parameters of the same name, when the function declares them.
        extra = {key: text for key, text in params.items() if key in spec.parameters and key != param}
        return lambda: self.invoker.invoke(spec, value, values, reason, extra)

    def _finish(self, watch: BlobWatch, key: BlobKey) -> None:
        watch.receipts.done.add(key)
        watch.receipts.attempts.pop(key, None)
        watch.retry_at.pop(key, None)
        watch.pending.pop(key, None)

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


def _resume_unfinished(watch: BlobWatch) -> None:
    """Versions an earlier run accepted or saw fail, and did not finish or poison, are tried again, as the
    host's internal queue would still hold their messages; an unpolled watch would otherwise never see them
    again."""
    for key in watch.receipts.attempts:
        container, name, _etag = key
        match = watch.pattern.match(name) if container == watch.container else None
        if match is not None:
            watch.pending[key] = match.groupdict()
