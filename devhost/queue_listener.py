"""Queue triggers: the host's queue listener semantics over Azure Storage queues (Azurite locally).

Messages are fetched ``batchSize`` at a time and a new batch is fetched when the running count drops to
``newBatchThreshold``. A message that fails goes back on the queue after ``visibilityTimeout``; after
``maxDequeueCount`` attempts it is moved to ``{queue}-poison``. Empty polls back off up to 2 s, as the host
does locally. Messages sent with a visibility delay stay invisible until then (the storage service does that).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import random
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueMessage

from devhost.config import QueueOptions, resolve
from devhost.connections import Clients
from devhost.indexing import FunctionSpec
from devhost.invoker import Invoker

log = logging.getLogger("devhost.queues")

RUNNING_VISIBILITY_SECONDS = 600  # how long a message being processed stays invisible to other readers
MIN_POLL_SECONDS = 0.1


def decode_body(content: str, encoding: str) -> bytes:
    if encoding == "none":
        return content.encode("utf-8")
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(
            "message is not base64: send it base64-encoded (TextBase64EncodePolicy) or set "
            "extensions.queues.messageEncoding to none in host.json"
        ) from exc


class QueueListener:
    """Listens to one queue for one function."""

    def __init__(self, spec: FunctionSpec, clients: Clients, options: QueueOptions, invoker: Invoker) -> None:
        self.spec = spec
        self.options = options
        self.invoker = invoker
        self.queue_name = resolve(
            spec.trigger["queueName"], f"function '{spec.name}' queue trigger queueName"
        )
        service = clients.queue(spec.trigger.get("connection"))
        self.queue: QueueClient = service.get_queue_client(self.queue_name)
        self.poison: QueueClient = service.get_queue_client(f"{self.queue_name}-poison")
        capacity = options.batch_size + options.new_batch_threshold
        self.executor = ThreadPoolExecutor(capacity, thread_name_prefix=f"queue-{spec.name}")
        self._running = 0
        self._pending: set[Future[Any]] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-listener-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop fetching, give back messages not started yet, wait for the running ones."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join()
        self.executor.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            with self._cond:
                while self._running > self.options.new_batch_threshold and not self._stop.is_set():
                    self._cond.wait(0.5)
            if self._stop.is_set():
                return
            try:
                messages = list(
                    self.queue.receive_messages(
                        max_messages=self.options.batch_size, visibility_timeout=RUNNING_VISIBILITY_SECONDS
                    )
                )
            except ResourceNotFoundError:
                messages = []  # the queue does not exist yet
            except Exception:
                log.exception("Receiving from queue '%s' failed", self.queue_name)
                messages = []
            for message in messages:
                with self._cond:
                    self._running += 1
                future = self.executor.submit(self._process, message)
                future.add_done_callback(lambda f, m=message: self._done(f, m))
            if messages:
                delay = 0.0
                continue
            delay = min(max(delay * 2, MIN_POLL_SECONDS), self.options.max_polling_interval)
            self._stop.wait(delay * random.uniform(0.8, 1.0))

    def _done(self, future: Future[Any], message: QueueMessage) -> None:
        if future.cancelled():
            try:  # stopped before it ran: make it visible again for the next start
                self.queue.update_message(message, visibility_timeout=0)
            except Exception:
                log.warning(
                    "Could not give back message %s; it reappears in %d s",
                    message.id,
                    RUNNING_VISIBILITY_SECONDS,
                )
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def _process(self, message: QueueMessage) -> None:
        try:
            self._attempt(message)
        except Exception:
            log.exception("Settling message %s on queue '%s' failed", message.id, self.queue_name)

    def _attempt(self, message: QueueMessage) -> None:
        spec = self.spec
        try:
            body = decode_body(message.content, self.options.message_encoding)
            value = func.queue.QueueMessage(
                id=message.id,
                body=body,
                dequeue_count=message.dequeue_count,
                expiration_time=message.expires_on,
                insertion_time=message.inserted_on,
                time_next_visible=message.next_visible_on,
                pop_receipt=message.pop_receipt,
            )
            values: dict[str, Any] = {
                "QueueTrigger": body.decode("utf-8", "replace"),
                "DequeueCount": message.dequeue_count,
                "Id": message.id,
            }
            values.update(_json_properties(body))
            reason = f"New queue message detected on '{self.queue_name}'."
            self.invoker.invoke(spec, value, values, reason)
        except Exception:
            self._failed(message)
        else:
            self.queue.delete_message(message)

    def _failed(self, message: QueueMessage) -> None:
        count = message.dequeue_count or 1
        if count >= self.options.max_dequeue_count:
            with contextlib.suppress(ResourceExistsError):
                self.poison.create_queue()
            self.poison.send_message(message.content)
            self.queue.delete_message(message)
            log.error(
                "Message %s has reached MaxDequeueCount of %d; moving it to queue '%s'",
                message.id, self.options.max_dequeue_count, self.poison.queue_name,
            )  # fmt: skip
        else:
            self.queue.update_message(message, visibility_timeout=int(self.options.visibility_timeout))


def _json_properties(body: bytes) -> dict[str, Any]:
    """Top-level properties of a JSON object message, usable as {name} in output bindings."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return (
        {k: v for k, v in data.items() if isinstance(v, str | int | float)} if isinstance(data, dict) else {}
    )
