"""Onnx mode for the benchmark: the published iteration exported by localvision and made the pipeline's
current model, and the bare model's CPU per photo (the bar's yardstick).

The export goes through the Custom Vision SDK as a user's would (``export_iteration``, ``get_exports``
until ``Done``, the signed ``downloadUri``), and the zip is placed with shared/onnx/pointer.py's writer
(``pipeline/models/{iterationId}.zip`` and ``models/current.json``). The bare model is the pipeline's own
``OnnxClassifier.load`` of that zip (one intra-op thread, as the pipeline runs it), timed in this process
on the same photos: ``session.run`` on inputs prepared beforehand.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from azure.storage.blob import BlobServiceClient

from bench import procs
from devstack.stack import LocalStack
from devstack.vision import trainer
from shared.onnx.model import OnnxClassifier
from shared.onnx.pointer import Label, ModelPointer, model_blob_name, store_model, zip_sha1

EXPORT_TIMEOUT = 120.0


def published_iteration(stack: LocalStack, project_id: str) -> str:
    """The id of the iteration published under the pipeline's PUBLISHED_NAME (the one service mode uses)."""
    name = stack.values["PUBLISHED_NAME"]
    for iteration in trainer(stack.endpoint).get_iterations(project_id):
        if iteration.publish_name == name:
            return iteration.id
    raise RuntimeError(f"no iteration of project {project_id} is published as {name!r}")


def export_zip(stack: LocalStack, project_id: str, iteration_id: str) -> bytes:
    """The iteration's ONNX export (default flavor), from localvision's SDK endpoints."""
    client = trainer(stack.endpoint)
    client.export_iteration(project_id, iteration_id, "ONNX")
    deadline = time.monotonic() + EXPORT_TIMEOUT
    while True:
        exports = [e for e in client.get_exports(project_id, iteration_id) if e.platform == "ONNX"]
        done = [e for e in exports if e.status == "Done" and e.download_uri]
        if done:
            with urllib.request.urlopen(done[0].download_uri, timeout=60) as response:
                return response.read()
        if any(e.status == "Failed" for e in exports):
            raise RuntimeError(f"the export of iteration {iteration_id} failed")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the export of iteration {iteration_id} took over {EXPORT_TIMEOUT:.0f} s")
        time.sleep(0.2)


def place(stack: LocalStack, zip_bytes: bytes, project_id: str, iteration_id: str) -> None:
    """Make the zip the pipeline's current model (what the retrain cycle's export step writes)."""
    tags = {tag.name: tag.id for tag in trainer(stack.endpoint).get_tags(project_id)}
    labels = OnnxClassifier.load(zip_bytes).info.labels
    pointer = ModelPointer(
        model_blob=model_blob_name(iteration_id),
        sha1=zip_sha1(zip_bytes),
        iteration_id=iteration_id,
        project_id=project_id,
        published_name=stack.values["PUBLISHED_NAME"],
        labels=[Label(name, tags.get(name)) for name in labels],
    )
    service = BlobServiceClient.from_connection_string(stack.conn_str)
    store_model(service.get_container_client(stack.values["PIPELINE_CONTAINER"]), zip_bytes, pointer)


def bare_model(zip_bytes: bytes, images: Sequence[bytes], warm: int = 5) -> dict[str, Any]:
    """CPU seconds per photo of the bare model (session.run) and of decode + preprocessing + run."""
    classifier = OnnxClassifier.load(zip_bytes, threads=1)
    prep = classifier.preprocessing
    for data in images[:warm]:
        classifier.predict(data)
    pid = os.getpid()
    started = procs.cpu_seconds(pid)
    inputs = [prep.input_array(prep.decode(data)) for data in images]
    prepared = procs.cpu_seconds(pid)
    wall = time.perf_counter()
    for array in inputs:
        classifier.probabilities(array)
    wall = time.perf_counter() - wall
    ran = procs.cpu_seconds(pid)
    return {
        "images": len(images),
        "modelCpuSecondsPerImage": (ran - prepared) / len(images),
        "preprocessCpuSecondsPerImage": (prepared - started) / len(images),
        "modelPerSecond": len(images) / wall,
    }
