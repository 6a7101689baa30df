"""localvision, started one of two ways behind one handle: as a subprocess (``python -m localvision``:
for process behaviour, and for benchmarks that measure the server's own CPU and memory) or in this process
(a real HTTP socket served from a thread: no interpreter start-up, no model import per server).

Both take localvision's own command-line arguments, so a test or benchmark picks the way and nothing else.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from devstack.paths import PROJECT_ROOT
from devstack.processes import Child, answers_http, free_port, spawn, wait_ready

TRAINING_KEY_ENV = "LOCALVISION_TRAINING_KEY"  # the keys travel in the environment: `ps` does not show them
PREDICTION_KEY_ENV = "LOCALVISION_PREDICTION_KEY"
STANDARD_PORT = 5100


def command(data_dir: Path, port: int, *extra_args: str) -> list[str]:
    """``python -m localvision`` on 127.0.0.1:``port``; keys from the environment (see ``key_env``)."""
    return [
        sys.executable, "-m", "localvision", "--data", str(data_dir), "--host", "127.0.0.1",
        "--port", str(port), *extra_args,
    ]  # fmt: skip


def key_env(training_key: str, prediction_key: str) -> dict[str, str]:
    return {TRAINING_KEY_ENV: training_key, PREDICTION_KEY_ENV: prediction_key}


def ready(port: int) -> bool:
    return answers_http(f"http://127.0.0.1:{port}/")


def serve_in_thread(argv: Sequence[str], sock: socket.socket) -> tuple[threading.Thread, uvicorn.Server]:
    """The in-process adapter: localvision's CLI arguments -> its ASGI app served by uvicorn on ``sock``
    from a daemon thread; returns the thread and the server (``server.should_exit = True`` stops it).

    Built the way localvision/cli.py builds it; re-point this one function when localvision offers its own.
    """
    from uvicorn.protocols.http import h11_impl

    from localvision.app import LocalVisionApp
    from localvision.cli import build_parser
    from localvision.engine import Engine
    from localvision.faults import Faults, parse_spec
    from localvision.handlers import Handlers
    from localvision.limits import TIERS
    from localvision.models import Backend
    from localvision.persistence import Store

    args = build_parser().parse_args(list(argv))
    faults = Faults(parse_spec(args.faults), args.fault_seed, args.fault_slow_seconds)
    tier = TIERS[args.tier] if args.tier else None
    backend = Backend(Store(args.data), Engine(), tier, faults)
    app = LocalVisionApp(
        Handlers(backend, args.allow_private_urls), args.training_key, args.prediction_key, tier, faults
    )
    h11_impl.STATUS_PHRASES[401] = b"Access Denied"  # as the service (and localvision's CLI) answer
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        access_log=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="localvision", daemon=True)
    thread.start()
    return thread, server


@dataclass
class InProcess:
    """localvision served from a thread of this process."""

    thread: threading.Thread
    server: uvicorn.Server
    sock: socket.socket
    ports: dict[str, int] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    kill = stop  # there is no process to kill: the socket closes, as a crashed server's would


LocalVision = Child | InProcess


def start(
    data_dir: Path,
    training_key: str,
    prediction_key: str,
    *extra_args: str,
    port: int | None = None,
    in_process: bool = False,
) -> LocalVision:
    """localvision on ``port`` (default: a free one) with this data folder, keys and extra arguments
    (e.g. ``--tier F0``, ``--faults 429:1.0``); ready to answer when this returns."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if in_process:
        return _start_in_process(data_dir, training_key, prediction_key, extra_args, port)
    port = port or free_port()
    log = data_dir.parent / f"localvision-{port}.log"
    env = {**os.environ, **key_env(training_key, prediction_key)}
    process = spawn(command(data_dir, port, *extra_args), log, cwd=PROJECT_ROOT, env=env)
    child = Child(process, log, {"http": port})
    try:
        wait_ready(lambda: ready(port), process, log, "localvision", timeout=120)
    except Exception:
        child.kill()
        raise
    return child


def _start_in_process(
    data_dir: Path, training_key: str, prediction_key: str, extra_args: Sequence[str], port: int | None
) -> InProcess:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))  # bound here: a free port without a race
    bound = sock.getsockname()[1]
    argv = [
        "--data", str(data_dir), "--port", str(bound),
        "--training-key", training_key, "--prediction-key", prediction_key, *extra_args,
    ]  # fmt: skip
    thread, server = serve_in_thread(argv, sock)
    handle = InProcess(thread, server, sock, {"http": bound})
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            handle.stop()
            raise RuntimeError(f"in-process localvision did not start on port {bound}")
        time.sleep(0.02)
    return handle
