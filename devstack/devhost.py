"""devhost, the local Functions host, as a child process on function_app.py (or a test's app)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from devstack import settings as settings_file
from devstack.paths import PROJECT_ROOT
from devstack.processes import Child, answers_tcp, free_port, spawn, wait_ready

STANDARD_PORT = 7071
DEVHOST = ("-m", "devhost")  # how devhost is run: ``python -m devhost`` (bench.profile wraps it)
STARTED = "Host started"  # devhost's log line once every trigger listens


def command(
    app: str,
    port: int,
    settings: Path | None = None,
    host_json: Path | None = None,
    runner: Sequence[str] = DEVHOST,
) -> list[str]:
    """``python -m devhost`` (or ``runner`` in its place, with devhost's arguments) on ``app``."""
    args = ["--app", app, "--port", str(port)]
    if settings is not None:
        args += ["--settings", str(settings)]
    if host_json is not None:
        args += ["--host-json", str(host_json)]
    return [sys.executable, *runner, *args]


def started(log: Path, since: int = 0) -> bool:
    return log.exists() and STARTED in log.read_text(errors="replace")[since:]


def start(
    workdir: Path, values: dict[str, str], host_json: Path | None = None, runner: Sequence[str] = DEVHOST
) -> Child:
    """devhost on function_app.py with these settings (written to ``workdir``/local.settings.json) on a
    free port; ready when its triggers listen."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = settings_file.write(workdir / "local.settings.json", values)
    port = free_port()
    log = workdir / f"devhost-{port}.log"
    # Settings come from the file only: variables already set would win over it, as in Core Tools.
    env = {k: v for k, v in os.environ.items() if k not in values and not k.startswith("AzureWebJobs")}
    process = spawn(command("function_app", port, path, host_json, runner), log, PROJECT_ROOT, env)
    child = Child(process, log, {"http": port})
    try:
        wait_ready(lambda: answers_tcp(port) and started(log), process, log, "devhost")
    except Exception:
        child.kill()
        raise
    return child
