"""Azurite, the storage emulator, from node_modules/.bin/azurite: its command line, its account, and a
private instance on free ports for the tests and benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

from devstack.paths import PROJECT_ROOT
from devstack.processes import Child, answers_tcp, free_port, spawn, wait_ready

AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"
# Azurite's published development account and key: public, documented, not a secret.
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STANDARD_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}


def unavailable() -> str | None:
    """None when Azurite can run here, else why not and what to do."""
    if not AZURITE_BIN.exists():
        return f"Azurite is not installed ({AZURITE_BIN} is missing): run `make install` (npm ci)"
    if shutil.which("node") is None:
        return "node is not on PATH: Azurite needs Node.js (install it, then `make install`)"
    return None


def command(ports: dict[str, int], location: Path | None) -> list[str]:
    """Azurite's command line; data under ``location``, or in memory when None (it refuses both)."""
    persistence = ["--location", str(location)] if location else ["--inMemoryPersistence"]
    return [
        str(AZURITE_BIN), "--silent", *persistence,
        "--blobHost", "127.0.0.1", "--blobPort", str(ports["blob"]),
        "--queueHost", "127.0.0.1", "--queuePort", str(ports["queue"]),
        "--tableHost", "127.0.0.1", "--tablePort", str(ports["table"]),
        "--skipApiVersionCheck", "--disableTelemetry", "--loose",
    ]  # fmt: skip


def ready(ports: dict[str, int]) -> bool:
    return answers_tcp(ports["blob"]) and answers_tcp(ports["queue"])


def connection_string(ports: dict[str, int]) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{ports['blob']}/{ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{ports['queue']}/{ACCOUNT};"
    )


def start(workdir: Path, *, in_memory: bool = False) -> Child:
    """A private Azurite on free ports; its data under ``workdir`` or in memory, its log in ``workdir``."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    workdir.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in STANDARD_PORTS}
    log = workdir / "azurite.log"
    process = spawn(command(ports, None if in_memory else workdir), log, cwd=workdir)
    child = Child(process, log, ports)
    try:
        wait_ready(lambda: ready(ports), process, log, "Azurite")
    except Exception:
        child.kill()
        raise
    return child
