"""A private local stack for one benchmark run: Azurite, localvision and devhost on free ports, temp data.

Nothing here touches a running ``make up`` stack: ports are free ones, data lives in a temporary folder,
and devhost reads a settings file written for this run. Every process is stopped by ``LocalStack.stop()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.services import (
    PROJECT_ROOT,
    Service,
    azurite_connection_string,
    free_port,
    start_azurite,
    start_localvision,
    wait_for_port,
)

TRAINING_KEY = "bench-training-key"
PREDICTION_KEY = "bench-prediction-key"
FUNCTION_KEY = "bench-function-key"
RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/"
    "Microsoft.CognitiveServices/accounts/localvision-prediction"
)


def pipeline_settings(conn_str: str, endpoint: str, overrides: dict[str, str]) -> dict[str, str]:
    """local.settings.json ``Values`` for this run: the shipped example, pointed at the private stack."""
    example = json.loads((PROJECT_ROOT / "local.settings.json.example").read_text(encoding="utf-8"))
    values = {str(k): str(v) for k, v in example["Values"].items()}
    values.update(
        {
            "AzureWebJobsStorage": conn_str,
            "PIPELINE_STORAGE": conn_str,
            "CUSTOMVISION_TRAINING_ENDPOINT": endpoint,
            "CUSTOMVISION_TRAINING_KEY": TRAINING_KEY,
            "CUSTOMVISION_PREDICTION_ENDPOINT": endpoint,
            "CUSTOMVISION_PREDICTION_KEY": PREDICTION_KEY,
            "CUSTOMVISION_PREDICTION_RESOURCE_ID": RESOURCE_ID,
            "PREDICTION_MAX_TPS": "0",
            "RETRAIN_POLL_SECONDS": "1",
            "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
            "AzureFunctionsWebHost__hostid": "bench-host",
            **overrides,
        }
    )
    return values


def start_devhost(
    workdir: Path, values: dict[str, str], probe_file: Path | None, host_json: Path | None = None
) -> Service:
    """devhost on function_app.py with these settings (and ``host_json`` instead of the project's);
    with ``probe_file``, through bench.probe."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings = workdir / "local.settings.json"
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": values}, indent=2), encoding="utf-8")
    port = free_port()
    log = workdir / f"devhost-{port}.log"
    devhost_args = ["--app", "function_app", "--settings", str(settings), "--port", str(port)]
    if host_json is not None:
        devhost_args += ["--host-json", str(host_json)]
    if probe_file is not None:
        command = [sys.executable, "-m", "bench.probe", str(probe_file), *devhost_args]
    else:
        command = [sys.executable, "-m", "devhost", *devhost_args]
    # Settings come from the file only: variables already set would win over it, as in Core Tools.
    env = {k: v for k, v in os.environ.items() if k not in values and not k.startswith("AzureWebJobs")}
    process = subprocess.Popen(
        command, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, env=env
    )
    service = Service(process, log, {"http": port})
    try:
        wait_for_port(port, process, log)
        _wait_for_text(log, "Host started", process)
    except Exception:
        service.kill()
        raise
    return service


def _wait_for_text(log: Path, text: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"devhost did not start; log:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.1)


@dataclass
class LocalStack:
    """Azurite + localvision (+ devhost, started separately) in ``workdir``."""

    workdir: Path
    azurite: Service
    localvision: Service
    devhost: Service | None = None
    values: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    host_json: Path | None = None

    @classmethod
    def start(cls, workdir: Path, *localvision_args: str) -> LocalStack:
        azurite = start_azurite(workdir / "azurite", in_memory=True)
        try:
            vision = start_localvision(
                workdir / "localvision" / "data", TRAINING_KEY, PREDICTION_KEY, *localvision_args
            )
        except Exception:
            azurite.stop()
            raise
        return cls(workdir, azurite, vision)

    @property
    def conn_str(self) -> str:
        return azurite_connection_string(self.azurite.ports["blob"], self.azurite.ports["queue"])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.localvision.ports['http']}"

    @property
    def devhost_url(self) -> str:
        assert self.devhost is not None, "devhost is not running"
        return f"http://127.0.0.1:{self.devhost.ports['http']}"

    def start_devhost(
        self,
        overrides: dict[str, str] | None = None,
        probe_file: Path | None = None,
        host_json: Path | None = None,
    ) -> None:
        self.overrides, self.host_json = dict(overrides or {}), host_json
        self.values = pipeline_settings(self.conn_str, self.endpoint, self.overrides)
        self.devhost = start_devhost(self.workdir / "devhost", self.values, probe_file, host_json)

    def restart_devhost(self) -> None:
        """Start devhost again with the same settings (same host id: it finds its blob receipts)."""
        if self.devhost is not None:
            self.devhost.stop(timeout=60)
        self.start_devhost(self.overrides, host_json=self.host_json)

    def stop(self) -> None:
        for service in (self.devhost, self.localvision, self.azurite):
            if service is not None:
                service.stop(timeout=60)
