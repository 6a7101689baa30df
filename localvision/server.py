"""Build the server from its options, and run it: in the foreground (the CLI) or in a thread (tests).

``serve_in_thread`` is the stable way to embed localvision in a Python process::

    from localvision.server import ServerOptions, serve_in_thread

    options = ServerOptions(tier="F0")
    server = serve_in_thread(data_dir, "training-key", "prediction-key", port=0, options=options)
    ...  # server.endpoint is "http://127.0.0.1:<port>"
    server.stop()
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from uvicorn.protocols.http import h11_impl

from localvision.app import LocalVisionApp
from localvision.auth import TrustedIssuer
from localvision.engine import Engine
from localvision.exporter import BackgroundExporter
from localvision.faults import Faults, parse_spec
from localvision.filestore import FileStore
from localvision.handlers import Handlers
from localvision.limits import TIERS
from localvision.persistence import Store
from localvision.signing import DEFAULT_TTL_SECONDS, UrlSigner
from localvision.state import Backend
from localvision.trainer import BackgroundTrainer


@dataclass(frozen=True)
class ServerOptions:
    """The CLI's options besides data folder, keys and port (same names, same defaults)."""

    host: str = "127.0.0.1"
    tier: str | None = None  # "F0" | "S0" | None (no limits)
    faults: str = ""  # e.g. "429:0.2,drop:0.05"; FaultSpecError (a ValueError) if malformed
    fault_seed: int | None = None
    fault_slow_seconds: float = 3.0
    allow_private_urls: bool = False
    link_ttl_seconds: int = DEFAULT_TTL_SECONDS  # how long image and export links stay valid
    log_level: str = "warning"
    store: str = "files"  # "files": the data folder keeps the state; "blob": a blob container does
    blob_container: str | None = None
    blob_connection_string: str | None = field(default=None, repr=False)  # holds the account key
    blob_account_url: str | None = None  # with an azure-identity credential
    trust_token_issuer: Path | None = None  # accept bearer tokens of this issuer (localvision.auth)


STORES = ("files", "blob")


def open_store(data_dir: Path, options: ServerOptions) -> Store:
    """The store the options ask for; ValueError if they are incomplete."""
    if options.store == "files":
        return FileStore(data_dir)
    if options.store != "blob":
        raise ValueError(f"unknown store '{options.store}': use one of {', '.join(STORES)}")
    if not options.blob_container:
        raise ValueError("the blob store needs a container name (--blob-container)")
    if not (options.blob_connection_string or options.blob_account_url):
        raise ValueError(
            "the blob store needs --blob-connection-string (Azurite) or --blob-account-url (Azure)"
        )
    from localvision.blobstore import BlobStore, container_client

    client = container_client(
        options.blob_container, options.blob_connection_string, options.blob_account_url
    )
    return BlobStore(data_dir, client)


@dataclass
class Server:
    """A built server: the ASGI app and the parts that need stopping."""

    app: LocalVisionApp
    backend: Backend
    trainer: BackgroundTrainer
    exporter: BackgroundExporter
    signer: UrlSigner
    faults: Faults


def build(data_dir: Path, training_key: str, prediction_key: str, options: ServerOptions) -> Server:
    """Everything but the listening socket; starts the training and export threads (``stop()`` them)."""
    if options.tier is not None and options.tier not in TIERS:
        raise ValueError(f"unknown tier '{options.tier}': use one of {', '.join(sorted(TIERS))}")
    if options.fault_slow_seconds < 0:
        raise ValueError("fault_slow_seconds must be 0 or more")
    faults = Faults(parse_spec(options.faults), options.fault_seed, options.fault_slow_seconds)
    tier = TIERS[options.tier] if options.tier else None
    store = open_store(data_dir, options)
    engine = Engine()
    backend = Backend(store, engine, tier)
    trainer = BackgroundTrainer(backend.iterations, engine, store, faults)
    backend.attach_trainer(trainer)
    exporter = BackgroundExporter(backend.exports, engine, store)
    backend.attach_exporter(exporter)
    signer = UrlSigner(store.signing_secret(), options.link_ttl_seconds)
    handlers = Handlers(backend, signer, options.allow_private_urls)
    issuer = TrustedIssuer.load(options.trust_token_issuer) if options.trust_token_issuer else None
    app = LocalVisionApp(handlers, signer, training_key, prediction_key, tier, faults, issuer)
    # The service answers a bad key with reason phrase "Access Denied"; the SDK shows that phrase.
    h11_impl.STATUS_PHRASES[401] = b"Access Denied"
    return Server(app, backend, trainer, exporter, signer, faults)


def uvicorn_config(server: Server, options: ServerOptions, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        server.app,
        host=options.host,
        port=port,
        http="h11",  # the 'drop' fault aborts h11's transport
        lifespan="off",
        access_log=False,
        log_config=None,  # uvicorn's messages go through the root logger (stdout from the CLI)
        log_level=options.log_level,
    )


class RunningServer:
    """A server listening on ``endpoint`` in a background thread of this process."""

    def __init__(self, server: Server, uvicorn_server: uvicorn.Server, sock: socket.socket) -> None:
        self.server = server
        self.port: int = sock.getsockname()[1]
        self.host: str = sock.getsockname()[0]
        self.endpoint = f"http://{self.host}:{self.port}"
        self._uvicorn = uvicorn_server
        self._socket = sock
        self._thread = threading.Thread(
            target=uvicorn_server.run,
            kwargs={"sockets": [sock]},
            name=f"localvision-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def signer(self) -> UrlSigner:
        return self.server.signer

    @property
    def data_dir(self) -> Path:
        return self.server.backend.store.root

    def wait_started(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"localvision did not start on port {self.port}")
            time.sleep(0.01)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop listening, finish open requests and the training in hand, and release the port."""
        self._uvicorn.should_exit = True
        self._thread.join(timeout)
        self._socket.close()
        self.server.trainer.stop(timeout)
        self.server.exporter.stop(timeout)


def serve_in_thread(
    data_dir: Path,
    training_key: str,
    prediction_key: str,
    port: int = 0,
    options: ServerOptions | None = None,
) -> RunningServer:
    """Serve localvision from a thread of this process on ``port`` (0: a free one); returns once it listens.

    The returned handle has ``endpoint``, ``port``, ``signer`` and ``stop()``. Raises ValueError for bad
    options and OSError if the port is taken.
    """
    options = options or ServerOptions()
    server = build(Path(data_dir), training_key, prediction_key, options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it a keep-alive client waits ~40 ms (delayed ACK) a call.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((options.host, port))
    except OSError:
        sock.close()
        server.trainer.stop()
        server.exporter.stop()
        raise
    running = RunningServer(server, uvicorn.Server(uvicorn_config(server, options, port)), sock)
    running.wait_started()
    return running


def serve_forever(
    data_dir: Path, training_key: str, prediction_key: str, port: int, options: ServerOptions
) -> None:
    """Serve in the foreground until interrupted (the CLI)."""
    logging.basicConfig(
        level=options.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,  # a container platform collects stdout
    )
    server = build(data_dir, training_key, prediction_key, options)
    # On exit a training in hand is dropped with the process; it starts again with the next start.
    uvicorn.Server(uvicorn_config(server, options, port)).run()
