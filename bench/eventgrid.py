"""devhost's Event Grid webhook under a maximal batch: 5,000 BlobCreated events answered within 5 s.

Event Grid waits 30 s for an answer and then delivers the batch again; a batch holds at most 5,000
events. On a private Azurite, devhost runs a one-function app (a source=EventGrid blob trigger that does
nothing, polling off, as in Azure) and the webhook gets two batches: 5,000 events of 5,000 distinct
blobs, then 5,000 copies of one event. The figures are the time to the 202 answer and, for the first,
the time until every blob has run. ``python -m bench.eventgrid``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from azure.storage.blob import BlobServiceClient

from bench.report import Bar, figure, table
from devstack import azurite
from devstack.devhost import command, started
from devstack.processes import Child, answers_tcp, free_port, spawn, wait_ready

EVENTS = 5000
BAR_SECONDS = 5.0
KEY = "bench-blobs-extension-key"
APP = """import azure.functions as func

app = func.FunctionApp()


@app.blob_trigger(arg_name="blob", path="watched/{name}", connection="AzureWebJobsStorage",
                  source=func.BlobSource.EVENT_GRID)
def on_blob(blob: func.InputStream) -> None:
    blob.read()
"""


def _event(url: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": "/blobServices/default/containers/watched/blobs/x",
        "data": {"api": "PutBlob", "blobType": "BlockBlob", "url": url},
        "dataVersion": "",
        "metadataVersion": "1",
        "eventTime": "2026-01-01T00:00:00Z",
    }


def _devhost(root: Path, conn_str: str) -> Child:
    root.mkdir(parents=True, exist_ok=True)
    (root / "function_app.py").write_text(APP)
    (root / "host.json").write_text(json.dumps({"version": "2.0"}))
    values = {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": conn_str,
        "DEVHOST_EVENTGRID_POLLING": "false",
        "DEVHOST_BLOBS_EXTENSION_KEY": KEY,
    }
    settings = root / "local.settings.json"
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    port = free_port()
    log = root / "devhost.log"
    process = spawn(command(str(root / "function_app.py"), port, settings), log, Path.cwd())
    wait_ready(lambda: answers_tcp(port) and started(log), process, log, "devhost")
    return Child(process, log, {"http": port})


def measure(workdir: Path) -> dict[str, Any]:
    store = azurite.start(workdir / "azurite", in_memory=True)
    host: Child | None = None
    try:
        conn_str = azurite.connection_string(store.ports)
        service = BlobServiceClient.from_connection_string(conn_str)
        watched = service.create_container("watched")
        names = [f"in/{i:05d}.txt" for i in range(EVENTS)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: watched.upload_blob(n, n.encode()), names))
        host = _devhost(workdir / "app", conn_str)
        url = f"http://127.0.0.1:{host.ports['http']}/runtime/webhooks/blobs?functionName=Host.Functions.on_blob"
        headers = {"aeg-event-type": "Notification", "x-functions-key": KEY}
        distinct = [_event(f"{watched.url}/{n}") for n in names]
        copies = [_event(f"{watched.url}/{names[0]}") for _ in range(EVENTS)]
        figures: dict[str, Any] = {"events": EVENTS}
        for label, batch in (("distinct", distinct), ("copies", copies)):
            started_at = time.perf_counter()
            answer = requests.post(url, json=batch, headers=headers, timeout=120)
            figures[f"{label}AnswerSeconds"] = time.perf_counter() - started_at
            figures[f"{label}Status"] = answer.status_code
        hosts = service.get_container_client("azure-webjobs-hosts")
        receipts = lambda: sum(1 for _ in hosts.list_blobs(name_starts_with="blobreceipts/"))  # noqa: E731
        deadline = time.monotonic() + 600
        while receipts() < EVENTS and time.monotonic() < deadline:
            time.sleep(1.0)
        figures["allReceiptsSeconds"] = time.perf_counter() - started_at
        figures["receipts"] = receipts()
        return figures
    finally:
        if host is not None:
            host.kill()
        store.kill()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-eventgrid-") as tmp:
        figures = measure(Path(tmp))
    bars = [
        Bar(
            f"eventgrid: {EVENTS:,} distinct events answered",
            figures["distinctAnswerSeconds"],
            BAR_SECONDS,
            "s",
        ),
        Bar(
            f"eventgrid: {EVENTS:,} copies of one event answered",
            figures["copiesAnswerSeconds"],
            BAR_SECONDS,
            "s",
        ),
    ]
    rows = [
        *[b.row() for b in bars],
        figure("eventgrid: every blob run, after the last answer", figures["allReceiptsSeconds"], "s"),
        (
            "eventgrid: receipts written",
            f"{figures['receipts']:,}",
            f"{EVENTS:,}",
            "PASS" if figures["receipts"] == EVENTS else "FAIL",
        ),
    ]
    print(table(rows, ("figure", "value", "bar", "")))
    return 0 if all(b.passed for b in bars) and figures["receipts"] == EVENTS else 1


if __name__ == "__main__":
    sys.exit(main())
