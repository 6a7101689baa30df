"""Races answer the service's 4xx and leave nothing behind: predictions during unpublish/delete, deletes
during training."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from localvision.filestore import FileStore
from localvision.state import Backend
from localvision.state.images import Upload
from localvision.state.ports import TrainingJob
from tests.conftest import PREDICTION_KEY
from tests.localvision.helpers import (
    BLUE,
    PREDICTION_RESOURCE_ID,
    RED,
    image_bytes,
    kept,
    tiny_project,
    trained_tiny_project,
    upload,
    wait_trained,
)


def slow_to_decode_png() -> bytes:
    """A small file (22 kB) that takes long to decode (3000x2000 px, no reduced-size decoding for PNG):
    predictions spend most of their time between looking up the iteration and reading its model."""
    ramp = np.linspace(0, 255, 3000, dtype=np.uint8)
    pixels = np.stack(
        [np.tile(ramp, (2000, 1)), np.tile(ramp[::-1], (2000, 1)), np.full((2000, 3000), 128, np.uint8)], -1
    )
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_predictions_racing_unpublish_and_delete_never_answer_5xx(localvision_endpoint, training):
    project, _, iteration = trained_tiny_project(training, publish_name="racing")
    url = f"{localvision_endpoint}/customvision/v3.1/prediction/{project.id}/classify/iterations/racing/image"
    photo = slow_to_decode_png()
    answers: Counter[tuple[int, str]] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def predict() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(
                    url,
                    headers={"Prediction-Key": PREDICTION_KEY, "Content-Type": "application/octet-stream"},
                    data=photo,
                    timeout=30,
                )
                code = response.json().get("code", "") if response.status_code != 200 else ""
                with lock:
                    answers[(response.status_code, code)] += 1

    def wait_for(answer: tuple[int, str]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if answers[answer]:
                    return
            time.sleep(0.05)

    workers = [threading.Thread(target=predict) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        wait_for((200, ""))  # predictions are flowing
        for _ in range(5):
            training.unpublish_iteration(project.id, iteration.id)
            training.publish_iteration(project.id, iteration.id, "racing", PREDICTION_RESOURCE_ID)
        training.unpublish_iteration(project.id, iteration.id)
        training.delete_iteration(project.id, iteration.id)
        time.sleep(0.2)
        training.delete_project(project.id)
        wait_for((404, "NotFoundProject"))
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
    assert sum(count for (status, _), count in answers.items() if status >= 500) == 0, answers
    assert set(answers) <= {(200, ""), (404, "NotFoundIteration"), (404, "NotFoundProject")}, answers
    assert answers[(200, "")] > 0 and answers[(404, "NotFoundProject")] > 0, answers


def _wait_until_trainer_idle(training) -> None:
    """Training runs one job at a time, in order: once a later job completes, earlier ones are done."""
    marker, _ = tiny_project(training, name="marker")
    try:
        assert wait_trained(training, marker.id, training.train_project(marker.id).id).status == "Completed"
    finally:
        training.delete_project(marker.id)


def test_deleting_a_project_while_it_trains_leaves_nothing_on_disk(localvision_server, training):
    project, tags = tiny_project(training, name="doomed")
    for tag, color in (("red", RED), ("blue", BLUE)):  # more images: a longer training to delete into
        upload(training, project.id, tags[tag], [image_bytes(color, seed=700 + i) for i in range(10)])
    folder = f"projects/{project.id}"
    assert f"{folder}/project.json" in kept(localvision_server, folder)
    training.train_project(project.id, training_type="Advanced", reserved_budget_in_hours=1)
    time.sleep(1.0)  # most likely mid-training; before or after, nothing may remain
    training.delete_project(project.id)
    _wait_until_trainer_idle(training)
    assert kept(localvision_server, folder) == []


class RecordingTrainer:
    """Stands in for the background trainer: keeps the submitted jobs for the test to run by hand."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, str]] = []

    def submit(self, project_id: str, iteration_id: str) -> None:
        self.submitted.append((project_id, iteration_id))


class NoModels:
    def predict(self, iteration_id, model_dir, data):
        raise AssertionError("not used")

    def performance(self, iteration_id, model_dir, threshold):
        raise AssertionError("not used")

    def forget(self, iteration_id: str) -> None:
        pass


def test_outcome_of_a_deleted_project_removes_what_training_wrote(tmp_path: Path):
    """Deterministic form of the race above: delete between the job's start and its outcome."""
    store = FileStore(tmp_path)
    backend = Backend(store, NoModels())
    trainer = RecordingTrainer()
    backend.attach_trainer(trainer)
    project = backend.projects.create("p")
    for name, color, offset in (("red", RED, 0), ("blue", BLUE, 50)):
        tag = backend.tags.create(project.id, name, None, None)
        uploads = [Upload("", image_bytes(color, seed=offset + i)) for i in range(5)]
        backend.images.add(project.id, uploads, [tag.id])
    iteration = backend.iterations.train(project.id)
    assert trainer.submitted == [(project.id, iteration.id)]
    job = backend.iterations.training_job(project.id, iteration.id)
    assert isinstance(job, TrainingJob) and len(job.image_hashes) == 10

    backend.projects.delete(project.id)
    model_dir = store.iteration_dir(project.id, iteration.id)  # what the engine writes when it finishes
    model_dir.mkdir(parents=True)
    (model_dir / "model.npz").write_bytes(b"model")
    backend.iterations.finish_training(project.id, iteration.id, None, 1.0)
    assert not store.project_dir(project.id).exists()
    assert list(store.projects_dir.iterdir()) == []
