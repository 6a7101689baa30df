"""Orchestration: load settings and the app, start every listener and the HTTP server, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from devhost.bindings import BindingRunner
from devhost.blob_listener import BlobListener
from devhost.config import (
    BLOBS_EXTENSION_KEY_SETTING,
    FUNCTION_KEY_SETTING,
    HOST_ID_SETTING,
    MASTER_KEY_SETTING,
    ConfigError,
    export_settings,
    load_host_config,
    load_local_settings,
)
from devhost.connections import DEFAULT_CONNECTION, Clients
from devhost.eventgrid import WEBHOOK_PATH, BlobWebhook
from devhost.http_server import HttpHost, Keys
from devhost.indexing import FunctionSpec, find_app, import_app_module, index_functions
from devhost.invoker import Invoker
from devhost.queue_listener import QueueListener
from devhost.receipts import ReceiptStore
from devhost.timer import TimerListener

log = logging.getLogger("devhost")
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"  # the host's app setting for the request body limit


@dataclass(frozen=True)
class Options:
    app: str = "function_app"
    settings: Path | None = None  # default: <script root>/local.settings.json
    host_json: Path | None = None  # default: <script root>/host.json
    port: int | None = None  # default: Host.LocalHttpPort, else 7071
    bind: str = "127.0.0.1"


def script_root(app: str) -> Path:
    """The folder holding the app, host.json and local.settings.json."""
    if app.endswith(".py") or "/" in app:
        return Path(app).resolve().parent
    return Path.cwd()


def default_host_id(root: Path) -> str:
    host_id = re.sub(r"[^a-z0-9-]+", "-", f"{socket.gethostname()}-{root.name}".lower()).strip("-")
    return host_id[:32].strip("-") or "devhost"


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"port {port} on {host} is in use ({exc.strerror}): stop what runs there, or start devhost with "
            "--port N (or Host.LocalHttpPort in local.settings.json)"
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: DevHost decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DevHost:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.root = script_root(options.app)
        settings = load_local_settings(options.settings or self.root / "local.settings.json")
        export_settings(settings)
        self.config = load_host_config(options.host_json or self.root / "host.json")
        self.port = options.port or settings.http_port or 7071
        self.host_id = os.environ.get(HOST_ID_SETTING) or default_host_id(self.root)
        self.specs = index_functions(find_app(import_app_module(options.app, self.root)))
        self.clients = Clients()
        self.invoker = Invoker(BindingRunner(self.clients, self.config.queues.message_encoding), self.root)
        threads = int(os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT") or 16)
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="invoke")
        self.blob_executor = ThreadPoolExecutor(
            self.config.blobs.max_degree_of_parallelism, thread_name_prefix="invoke-blob"
        )
        self._build_listeners()

    def _of(self, trigger_type: str) -> list[FunctionSpec]:
        return [spec for spec in self.specs if spec.trigger_type == trigger_type]

    def _build_listeners(self) -> None:
        blob_specs, timer_specs = self._of("blobTrigger"), self._of("timerTrigger")
        # Receipts and timer state live in AzureWebJobsStorage, as the host keeps them (HTTP-only apps: none).
        hosts = self.clients.blob(DEFAULT_CONNECTION) if blob_specs or timer_specs else None
        self.blobs = BlobListener(
            blob_specs,
            self.clients,
            ReceiptStore(hosts, self.host_id) if hosts else None,
            self.config.blobs,
            self.invoker,
            self.blob_executor,
            self.config.queues.message_encoding,
        )
        self.queues = [
            QueueListener(s, self.clients, self.config.queues, self.invoker) for s in self._of("queueTrigger")
        ]
        self.timers = (
            [TimerListener(s, hosts, self.host_id, self.invoker, self.executor) for s in timer_specs]
            if hosts
            else []
        )
        http_specs = self._of("httpTrigger")
        function_key = os.environ.get(FUNCTION_KEY_SETTING) or None
        master_key = os.environ.get(MASTER_KEY_SETTING) or None
        blobs_key = os.environ.get(BLOBS_EXTENSION_KEY_SETTING) or None
        protected = [
            s.name for s in http_specs if str(s.trigger.get("authLevel", "function")).lower() != "anonymous"
        ]
        if protected and not (function_key or master_key):
            raise ConfigError(
                f"{FUNCTION_KEY_SETTING} is not set but {', '.join(protected)} need a key: add "
                f'"{FUNCTION_KEY_SETTING}": "<a key of your choice>" to Values in local.settings.json '
                f"(callers send it as the x-functions-key header or ?code=)"
            )
        self.http = HttpHost(
            http_specs,
            self.config.route_prefix,
            Keys(function_key, master_key, blobs_key),
            int(os.environ.get(BODY_LIMIT_SETTING) or self.config.max_request_body_bytes),
            self.invoker,
            self.executor,
            self.status,
            BlobWebhook(self.blobs, self.executor) if self.blobs.watches else None,
        )

    def status(self) -> dict[str, Any]:
        return {"id": self.host_id, "state": "Running", "functions": [s.name for s in self.specs]}

    def describe(self) -> None:
        base = f"http://{'localhost' if self.options.bind == '127.0.0.1' else self.options.bind}:{self.port}"
        log.info("Host id %s, script root %s, %d functions:", self.host_id, self.root, len(self.specs))
        for line in self.http.describe(base):
            log.info("  %s", line)
        for watch in self.blobs.watches:
            how = "polling" if watch.polled else "Event Grid events only"
            if watch.source == "EventGrid":
                how += f"; events: POST {base}{WEBHOOK_PATH}?functionName=Host.Functions.{watch.spec.name}"
            log.info("  %s: blobTrigger %s/%s{...} (%s)", watch.spec.name, watch.container, watch.prefix, how)
        if any(w.source == "EventGrid" for w in self.blobs.watches) and not (
            os.environ.get(BLOBS_EXTENSION_KEY_SETTING) or os.environ.get(MASTER_KEY_SETTING)
        ):
            log.info(
                "  (set %s in local.settings.json to post Event Grid events to %s)",
                BLOBS_EXTENSION_KEY_SETTING, WEBHOOK_PATH,
            )  # fmt: skip
        for queue in self.queues:
            log.info("  %s: queueTrigger %s", queue.spec.name, queue.queue_name)
        for timer in self.timers:
            log.info("  %s: timerTrigger %s", timer.spec.name, timer.schedule.expression)

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM, then stop after the running invocations finish."""
        sock = bind_socket(self.options.bind, self.port)
        # log_config=None: uvicorn's own lines go through devhost's handler (and its escaping) too.
        config = uvicorn.Config(
            self.http.app,
            interface="asgi3",
            log_level="warning",
            access_log=False,
            lifespan="off",
            log_config=None,
        )
        server = _Server(config)

        def on_signal(signum: int, _frame: Any) -> None:
            if server.should_exit:
                log.warning("Second %s: not waiting for HTTP requests any more", signal.Signals(signum).name)
                server.force_exit = True
            log.info(
                "%s received: stopping after the running invocations finish", signal.Signals(signum).name
            )
            server.should_exit = True

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.describe()
        self.start_listeners()
        log.info("Host started: listening on http://%s:%d", self.options.bind, self.port)
        try:
            asyncio.run(server.serve(sockets=[sock]))
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sock.close()

    def start_listeners(self) -> None:
        self.blobs.start()
        for listener in [*self.queues, *self.timers]:
            listener.start()

    def stop(self) -> None:
        self.blobs.stop()
        for listener in [*self.queues, *self.timers]:
            listener.stop()
        self.blob_executor.shutdown(wait=True, cancel_futures=True)
        self.executor.shutdown(wait=True, cancel_futures=True)
        log.info("Host stopped")
