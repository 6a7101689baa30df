"""localvision, started one of two ways behind one handle: as a subprocess (``python -m localvision``:
for process behaviour, and for benchmarks that measure the server's own CPU and memory) or in this process
(a real HTTP socket served from a thread: no interpreter start-up, no model import per server).

Both take localvision's own command-line arguments, so a test or benchmark picks the way and nothing else.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.paths import PROJECT_ROOT
from devstack.processes import Child, answers_http, free_port, spawn, wait_ready

if TYPE_CHECKING:
    from localvision.server import RunningServer

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


@dataclass
class InProcess:
    """localvision served from a thread of this process (``localvision.server.serve_in_thread``)."""

    running: RunningServer
    ports: dict[str, int] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        self.running.stop(timeout)

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
    """The same command-line arguments as the subprocess, served in-process on a real socket."""
    from localvision.cli import build_parser, options_from  # imported on use: `make down` needs none of it
    from localvision.server import serve_in_thread

    args = build_parser().parse_args(
        [
            "--data",
            str(data_dir),
            "--training-key",
            training_key,
            "--prediction-key",
            prediction_key,
            *extra_args,
        ]
    )
    running = serve_in_thread(data_dir, training_key, prediction_key, port or 0, options_from(args))
    return InProcess(running, {"http": running.port})
