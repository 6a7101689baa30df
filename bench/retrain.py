"""Retrain cycles through devhost's HTTP API: POST /api/retrain, then GET /api/retrain/{runId} until done."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.storage.blob import BlobServiceClient

from devstack.photos import Photo
from devstack.runs import TERMINAL
from devstack.vision import FUNCTION_KEY


def call(base_url: str, method: str, path: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{base_url}/api/{path}",
        method=method,
        headers={"x-functions-key": FUNCTION_KEY},
        data=None if method == "GET" else b"",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def upload_training(conn_str: str, container: str, photos: Sequence[Photo]) -> None:
    """Put ``photos`` into the training container as {tag}/{file}."""
    client = BlobServiceClient.from_connection_string(conn_str).get_container_client(container)
    if not client.exists():
        client.create_container()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: client.upload_blob(p.name, p.data, overwrite=True), photos))


def cycle(base_url: str, timeout: float = 600.0) -> dict[str, Any]:
    """Run one cycle; the run record plus ``seconds`` from the POST until the record is terminal."""
    started = time.perf_counter()
    status, body = call(base_url, "POST", "retrain")
    if status != 202:
        raise RuntimeError(f"POST /api/retrain answered {status}: {body}")
    run_id = body["runId"]
    deadline = time.monotonic() + timeout
    while True:
        status, run = call(base_url, "GET", f"retrain/{run_id}")
        if status == 200 and run.get("status") in TERMINAL:
            return {**run, "seconds": time.perf_counter() - started}
        if time.monotonic() > deadline:
            raise TimeoutError(f"retrain run {run_id} did not finish in {timeout:.0f} s: {run}")
        time.sleep(0.25)


def step_seconds(run: dict[str, Any]) -> dict[str, float]:
    """Seconds per step from the run record's timings (second resolution: the record's timestamps)."""
    from shared.runs.store import parse_time

    out = {}
    for step, timing in (run.get("timings") or {}).items():
        if timing.get("startedAt") and timing.get("finishedAt"):
            out[step] = (parse_time(timing["finishedAt"]) - parse_time(timing["startedAt"])).total_seconds()
    return out
