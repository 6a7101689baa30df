"""devhost test harness: a script root per test (a test app, host.json, local.settings.json) and devhost
as a real subprocess against the session's real Azurite."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient

from devstack import devhost as devhost_service
from devstack.paths import PROJECT_ROOT
from devstack.processes import free_port
from tests.support.waiting import wait_until

APPS = Path(__file__).parent / "apps"
FUNCTION_KEY = "test-function-key"
MASTER_KEY = "test-master-key"


def peek_json(conn_str: str, queue: str) -> list[Any]:
    """The JSON bodies of the (base64) messages on a queue; none when the queue does not exist yet."""
    client = QueueClient.from_connection_string(conn_str, queue)
    try:
        return [json.loads(base64.b64decode(m.content)) for m in client.peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []


@dataclass
class DevHostProcess:
    root: Path
    port: int
    log: Path
    process: subprocess.Popen | None = None
    app_args: list[str] | None = None  # default: --app <root>/function_app.py

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DevHostProcess:
        offset = len(self.output())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devhost", *self.app_args, "--port", str(self.port)]
            if self.app_args
            else devhost_service.command(str(self.root / "function_app.py"), self.port),
            cwd=PROJECT_ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("AzureWebJobs")},
        )
        assert self.process is not None
        process = self.process
        wait_until(
            lambda: devhost_service.started(self.log, offset) or process.poll() is not None,
            60,
            "devhost start",
        )
        if process.poll() is not None:
            pytest.fail(f"devhost exited with {self.process.returncode}:\n{self.output()[-4000:]}")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 60.0) -> int:
        """Ctrl+C, as a user would; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout)
        return self.process.returncode

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Scenario:
    """One test's isolated names (containers, queues, host id) in the shared Azurite."""

    conn_str: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def name(self, base: str) -> str:
        return f"{base}-{self.tag}"

    @property
    def blobs(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.conn_str)

    @property
    def calls(self) -> ContainerClient:
        return self.blobs.get_container_client(self.name("calls"))

    def events(self, kind: str, key: str | None = None) -> list[dict[str, Any]]:
        prefix = f"{kind}/{key}/" if key else f"{kind}/"
        return [
            json.loads(self.calls.download_blob(item.name).readall())
            for item in self.calls.list_blobs(name_starts_with=prefix)
        ]

    def open_gate(self, name: str) -> None:
        self.calls.upload_blob(f"gates/{name}", b"", overwrite=True)


@pytest.fixture
def scenario(azurite_conn_str: str) -> Scenario:
    s = Scenario(azurite_conn_str)
    s.calls.create_container()
    return s


@pytest.fixture
def devhost(tmp_path: Path, scenario: Scenario) -> Iterator[Callable[..., DevHostProcess]]:
    """Factory: ``devhost("blob_app", values, host_json)`` writes a script root and starts devhost on it."""
    started: list[DevHostProcess] = []
    root = tmp_path / "app"
    port = free_port()

    def make(
        app: str, values: dict[str, str] | None = None, host_json: dict[str, Any] | None = None
    ) -> DevHostProcess:
        root.mkdir(exist_ok=True)
        shutil.copy(APPS / f"{app}.py", root / "function_app.py")
        shutil.copy(APPS / "record.py", root / "record.py")
        settings = {
            "IsEncrypted": False,
            "Values": {
                "FUNCTIONS_WORKER_RUNTIME": "python",
                "AzureWebJobsStorage": scenario.conn_str,
                "AzureFunctionsWebHost__hostid": scenario.name("host"),
                "TEST_STORAGE": scenario.conn_str,
                "CALLS_CONTAINER": scenario.name("calls"),
                "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
                "DEVHOST_MASTER_KEY": MASTER_KEY,
                **(values or {}),
            },
        }
        (root / "local.settings.json").write_text(json.dumps(settings))
        (root / "host.json").write_text(json.dumps({"version": "2.0", **(host_json or {})}))
        host = DevHostProcess(root, port, tmp_path / "devhost.log").start()
        started.append(host)
        return host

    yield make
    for host in started:
        host.kill()
