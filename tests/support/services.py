"""Start the real local services (Azurite, localvision) as processes on free loopback ports.

Used by the tests' fixtures and by the benchmarks; every process is stopped by ``Service.stop()``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"
# Azurite's published development account and key: public, documented, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}; log:\n{log.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(
        f"nothing answered on port {port} after {timeout:.0f} s; log:\n{log.read_text()[-4000:]}"
    )


@dataclass
class Service:
    process: subprocess.Popen
    log: Path
    ports: dict[str, int] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def azurite_connection_string(blob_port: int, queue_port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob_port}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/{AZURITE_ACCOUNT};"
    )


def azurite_available() -> str | None:
    """None when Azurite can run here, else why not."""
    if not AZURITE_BIN.exists():
        return f"Azurite is not installed ({AZURITE_BIN} missing): run `make install`"
    if shutil.which("node") is None:
        return "node is not on PATH: Azurite needs Node.js"
    return None


def start_azurite(workdir: Path, *, in_memory: bool = False) -> Service:
    """Azurite on free ports; data under ``workdir``, or in memory (Azurite refuses both together)."""
    reason = azurite_available()
    if reason:
        raise RuntimeError(reason)
    workdir.mkdir(parents=True, exist_ok=True)
    persistence = ["--inMemoryPersistence"] if in_memory else ["--location", str(workdir)]
    blob_port, queue_port, table_port = free_port(), free_port(), free_port()
    log = workdir / "azurite.log"
    process = subprocess.Popen(
        [
            str(AZURITE_BIN), "--silent", *persistence,
            "--blobHost", "127.0.0.1", "--blobPort", str(blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(table_port),
            "--skipApiVersionCheck", "--disableTelemetry", "--loose",
        ],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    service = Service(process, log, {"blob": blob_port, "queue": queue_port, "table": table_port})
    try:
        wait_for_port(blob_port, process, log)
        wait_for_port(queue_port, process, log)
    except Exception:
        service.kill()
        raise
    return service


def start_localvision(
    data_dir: Path,
    training_key: str,
    prediction_key: str,
    *extra_args: str,
    port: int | None = None,
) -> Service:
    """Start ``python -m localvision`` with the given data folder and keys; ``extra_args`` e.g. --tier F0."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = data_dir.parent / f"localvision-{port}.log"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "localvision", "--data", str(data_dir), "--host", "127.0.0.1",
            "--port", str(port), "--training-key", training_key, "--prediction-key", prediction_key,
            *extra_args,
        ],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, env={**os.environ},
    )  # fmt: skip
    service = Service(process, log, {"http": port})
    try:
        wait_for_port(port, process, log, timeout=120)
    except Exception:
        service.kill()
        raise
    return service
