"""The blob extension's Event Grid webhook, ``POST /runtime/webhooks/blobs?functionName=Host.Functions.X``.

As the host serves it for ``source=EventGrid`` blob triggers: the ``aeg-event-type`` header says what the
body is. ``SubscriptionValidation`` is Event Grid's handshake, answered 200 ``{"validationResponse": code}``;
``Notification`` carries events (an Event Grid schema array, or one CloudEvents object) whose
``Microsoft.Storage.BlobCreated`` ones run the function for the blob at ``data.url`` (other event types are
ignored), answered 202; ``Unsubscribe`` is answered 202. A batch's events are de-duplicated by blob before
any storage call (every event of one blob runs its current version, once), and the batch is answered as
soon as its blobs are kept in the inbox (devhost.inbox: one storage write), well within Event Grid's 30 s
delivery timeout even for 5,000 events; the inbox's worker delivers them after. The caller needs the
blobs extension's system key (``DEVHOST_BLOBS_EXTENSION_KEY``) or the master key, as ``code=`` or
``x-functions-key``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Executor
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.responses import JSONResponse, PlainTextResponse, Response

from devhost.blob_listener import BlobListener, BlobWatch
from devhost.inbox import Inbox

log = logging.getLogger("devhost.eventgrid")

WEBHOOK_PATH = "/runtime/webhooks/blobs"
FUNCTION_PREFIX = "host.functions."
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
VALIDATION_SHAPE = (
    '[{"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": {"validationCode": "..."}}]'
)


class BadEvent(ValueError):
    """The request body is not what its ``aeg-event-type`` announces."""


def function_name(query_value: str | None) -> str | None:
    """``Host.Functions.classify`` (or plain ``classify``) -> ``classify``."""
    if not query_value:
        return None
    name = query_value.strip()
    return name[len(FUNCTION_PREFIX) :] if name.lower().startswith(FUNCTION_PREFIX) else name


def blob_location(url: str, account_path: str) -> tuple[str, str]:
    """(container, blob name) of a blob URL; ``account_path`` is ``/devstoreaccount1`` for Azurite's
    path-style URLs and empty for Azure's."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        raise BadEvent(f"data.url {url[:200]!r} is not a URL") from None
    if account_path and path.startswith(account_path + "/"):
        path = path[len(account_path) :]
    container, _, name = path.lstrip("/").partition("/")
    if not container or not name:
        raise BadEvent(f"data.url {url[:200]!r} does not name a blob (https://<account>/<container>/<blob>)")
    return container, name


def validation_code(body: bytes) -> str:
    try:
        events = json.loads(body)
        code = events[0]["data"]["validationCode"]
    except (ValueError, LookupError, TypeError, RecursionError):
        raise BadEvent(f"a SubscriptionValidation body is {VALIDATION_SHAPE}") from None
    if not isinstance(code, str) or not code:
        raise BadEvent("data.validationCode must be a non-empty string")
    return code


def blob_created_urls(body: bytes) -> list[str]:
    """The ``data.url`` of each BlobCreated event of a Notification body; BadEvent if any is malformed."""
    try:
        parsed: Any = json.loads(body)
    except (ValueError, RecursionError):
        raise BadEvent("the body is not JSON: send an array of Event Grid events") from None
    events = parsed if isinstance(parsed, list) else [parsed] if isinstance(parsed, dict) else None
    if not events:
        raise BadEvent("the body must be a non-empty array of Event Grid events (or one CloudEvent)")
    urls = []
    for index, event in enumerate(events):
        kind = event.get("eventType", event.get("type")) if isinstance(event, dict) else None
        if not isinstance(kind, str) or not kind:
            raise BadEvent(f"event {index} has no eventType (Event Grid schema) or type (CloudEvents)")
        if kind != BLOB_CREATED:
            continue
        data = event.get("data")
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url:
            raise BadEvent(f"event {index} ({BLOB_CREATED}) has no data.url string")
        urls.append(url)
    return urls


class BlobWebhook:
    def __init__(self, blobs: BlobListener, executor: Executor) -> None:
        self.blobs = blobs
        self.executor = executor
        self.inbox = Inbox(blobs, blobs.store.container, blobs.store.host_id)
        self.inbox.start([watch for watch in blobs.watches if watch.source == "EventGrid"])

    def watch(self, query_value: str | None) -> BlobWatch | Response:
        name = function_name(query_value)
        if not name:
            return PlainTextResponse(
                "Add ?functionName=Host.Functions.<function name> to the webhook URL.", status_code=400
            )
        watch = self.blobs.eventgrid_watch(name)
        if watch is None:
            return PlainTextResponse(
                f"No blob-triggered function with source=EventGrid is named {name[:100]!r}.", status_code=404
            )
        return watch

    async def handle(self, event_type: str, watch: BlobWatch, body: bytes) -> Response:
        kind = event_type.strip().lower()
        try:
            if kind == "subscriptionvalidation":
                code = validation_code(body)
                log.info("Event Grid subscription handshake for function '%s'", watch.spec.name)
                return JSONResponse({"validationResponse": code})
            if kind == "unsubscribe":
                return Response(status_code=202)
            if kind != "notification":
                raise BadEvent("the aeg-event-type header must be SubscriptionValidation or Notification")
            urls = blob_created_urls(body)
            account_path = urlsplit(self.blobs.clients.blob(watch.connection).url).path.rstrip("/")
            locations = [blob_location(url, account_path) for url in urls]
        except BadEvent as error:
            return PlainTextResponse(f"Bad Event Grid request: {error}.", status_code=400)
        outcomes, names = self._sort(watch, locations)
        if names:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self.executor, self.inbox.put, watch, watch.container, names)
            except Exception:  # storage unreachable: 503 makes Event Grid deliver the batch again later
                log.exception("Keeping an Event Grid batch of %d blobs failed", len(names))
                return PlainTextResponse(
                    "The blob storage could not be reached; send the event again.",
                    status_code=503,
                    headers={"Retry-After": "5"},
                )
        log.info(
            "Event Grid batch for function '%s': %d events, %d blobs queued",
            watch.spec.name, len(locations), len(names),
        )  # fmt: skip
        return JSONResponse({"events": outcomes}, status_code=202)

    @staticmethod
    def _sort(watch: BlobWatch, locations: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        """What happens to each event (in words), and the distinct blobs to run, without a storage call."""
        outcomes: list[str] = []
        first: dict[str, int] = {}
        for index, (container, name) in enumerate(locations):
            if container != watch.container or watch.pattern.match(name) is None:
                outcomes.append(
                    f"{container}/{name} is not under the trigger path {watch.container}/{watch.prefix}..."
                )
            elif name in first:
                outcomes.append(f"{container}/{name}: the same blob as event {first[name]}")
            else:
                first[name] = index
                outcomes.append(f"{container}/{name} queued")
        return outcomes, list(first)
