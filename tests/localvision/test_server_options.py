"""Server options (tiers, faults, private URLs) on in-process servers; the command line, restarts and
crashes on real ``python -m localvision`` processes, since the process is the point there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageUrlCreateBatch,
    ImageUrlCreateEntry,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from devstack.localvision import LocalVision
from devstack.localvision import start as start_localvision
from devstack.paths import PROJECT_ROOT
from devstack.processes import Child, answers_tcp, free_port, wait_ready
from localvision.server import RunningServer, ServerOptions, serve_in_thread
from tests.conftest import PREDICTION_KEY, TRAINING_KEY
from tests.localvision.helpers import (
    BLUE,
    RED,
    image_bytes,
    predictor,
    serve_files,
    tiny_project,
    trained_tiny_project,
    trainer,
    wait_trained,
)

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def server(tmp_path: Path):
    """An in-process localvision with options: ``server(tier="F0")`` -> endpoint."""
    started: list[RunningServer] = []

    def start(**options) -> str:
        running = serve_in_thread(
            tmp_path / f"data{len(started)}", TRAINING_KEY, PREDICTION_KEY, options=ServerOptions(**options)
        )
        started.append(running)
        return running.endpoint

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def process(tmp_path: Path):
    """A ``python -m localvision`` process: ``process(data=...)`` -> (service, endpoint)."""
    started: list[LocalVision] = []

    def start(*args: str, data: Path) -> tuple[LocalVision, str]:
        service = start_localvision(data, TRAINING_KEY, PREDICTION_KEY, *args)
        started.append(service)
        return service, f"http://127.0.0.1:{service.ports['http']}"

    yield start
    for service in started:
        service.stop()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOCALVISION_")}
    return subprocess.run(
        [sys.executable, "-m", "localvision", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env={**clean, **(env or {})},
    )


def test_refuses_to_start_without_keys(tmp_path):
    result = run_cli("--data", str(tmp_path), "--prediction-key", "p")
    assert result.returncode == 2 and "--training-key" in result.stderr
    result = run_cli("--data", str(tmp_path), "--training-key", "t")
    assert result.returncode == 2 and "--prediction-key" in result.stderr
    assert "LOCALVISION_PREDICTION_KEY" in result.stderr


def test_refuses_a_malformed_fault_spec(tmp_path):
    result = run_cli(
        "--data", str(tmp_path), "--training-key", "t", "--prediction-key", "p", "--faults", "boom:2"
    )
    assert result.returncode == 2 and "--faults" in result.stderr


def test_settings_from_the_environment_and_endpoint_printed(tmp_path):
    port = free_port()
    log = tmp_path / "out.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOCALVISION_")},
        "LOCALVISION_TRAINING_KEY": "env-training",
        "LOCALVISION_PREDICTION_KEY": "env-prediction",
        "LOCALVISION_DATA": str(tmp_path / "d"),
        "LOCALVISION_PORT": str(port),
        "LOCALVISION_HOST": "127.0.0.1",
    }
    command = [sys.executable, "-m", "localvision"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, env=env)
    service = Child(process, log, {"http": port})
    try:
        wait_ready(lambda: answers_tcp(port), process, log, "localvision")
        endpoint = f"http://127.0.0.1:{port}"
        assert trainer(endpoint, key="env-training").create_project("kept in LOCALVISION_DATA")
        assert list((tmp_path / "d" / "projects").glob("*/project.json"))
        health = requests.get(f"{endpoint}/health", timeout=10)  # no key: a platform's probe
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert f"serving {endpoint}" in log.read_text() and "store: files" in log.read_text()
        assert "env-training" not in log.read_text()
    finally:
        service.stop()


def test_f0_tier_limits_projects_and_prediction_rate(server):
    endpoint = server(tier="F0")
    client = trainer(endpoint)
    client.create_project("one")
    client.create_project("two")
    with pytest.raises(HttpOperationError) as caught:
        client.create_project("three")
    assert caught.value.error.code == "BadRequestExceedProjectLimit"

    url = f"{endpoint}/customvision/v3.1/prediction/{MISSING}/classify/iterations/x/image"
    answers = [
        requests.post(url, headers={"Prediction-Key": PREDICTION_KEY}, data=b"x", timeout=10)
        for _ in range(10)
    ]
    throttled = [response for response in answers if response.status_code == 429]
    assert throttled, [response.status_code for response in answers]
    assert throttled[0].headers["Retry-After"] == "1"
    assert throttled[0].json()["message"]
    assert {response.status_code for response in answers} <= {404, 429}
    time.sleep(1.1)  # the window is one second: after it, calls go through again
    with pytest.raises(HttpOperationError) as caught:
        predictor(endpoint).classify_image(MISSING, "x", b"x")
    assert caught.value.response.status_code == 404


def test_fault_429_and_500_answer_service_bodies(server):
    for spec, status in (("429:1.0", 429), ("500:1.0", 500)):
        endpoint = server(faults=spec)
        with pytest.raises(HttpOperationError) as caught:
            predictor(endpoint).classify_image_with_no_store(MISSING, "x", b"x")
        response = caught.value.response
        assert response.status_code == status
        assert response.json()["code"] and response.json()["message"]
        if status == 429:
            assert response.headers["Retry-After"] == "1"
        assert trainer(endpoint).get_domains()  # training calls are not faulted


def test_fault_drop_closes_the_connection(server):
    endpoint = server(faults="drop:1.0")
    with pytest.raises(ClientRequestError):
        predictor(endpoint).classify_image(MISSING, "x", b"x")
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{endpoint}/customvision/v3.1/prediction/{MISSING}/classify/iterations/x/image",
            headers={"Prediction-Key": PREDICTION_KEY},
            data=b"x",
            timeout=10,
        )


def test_fault_slow_delays_then_answers(server):
    endpoint = server(faults="slow:1.0", fault_slow_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(HttpOperationError) as caught:
        predictor(endpoint).classify_image(MISSING, "x", b"x")
    assert caught.value.response.status_code == 404  # the real answer, after the delay
    assert time.monotonic() - started >= 0.5  # a lower bound only: the server sleeps at least this long


def test_fault_draws_are_reproducible_with_a_seed(server):
    outcomes = []
    for _ in range(2):
        endpoint = server(faults="429:0.5", fault_seed=7)
        url = f"{endpoint}/customvision/v3.1/prediction/{MISSING}/classify/iterations/x/image"
        codes = [
            requests.post(url, headers={"Prediction-Key": PREDICTION_KEY}, data=b"x", timeout=10).status_code
            for _ in range(12)
        ]
        outcomes.append(codes)
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {404, 429}


def test_fault_trainfail_fails_the_iteration_with_a_reason(server):
    endpoint = server(faults="trainfail:1.0")
    client = trainer(endpoint)
    project, _ = tiny_project(client)
    failed = wait_trained(client, project.id, client.train_project(project.id).id)
    assert failed.status == "Failed"
    assert "trainfail" in failed.training_error_details
    with pytest.raises(HttpOperationError) as caught:
        client.publish_iteration(project.id, failed.id, "m", "/subscriptions/s/resourceGroups/g/providers/"
                                 "Microsoft.CognitiveServices/accounts/a")  # fmt: skip
    assert caught.value.error.code == "BadRequestIterationIsNotTrained"
    retry = client.train_project(project.id)  # a failed iteration does not count as "nothing changed"
    assert retry.status == "Training"


def test_state_survives_a_restart(process, tmp_path):
    data = tmp_path / "kept"
    first, endpoint = process(data=data)
    client = trainer(endpoint)
    project, tags, iteration = trained_tiny_project(client, publish_name="kept model")
    first.stop()

    _, endpoint = process(data=data)
    client = trainer(endpoint)
    assert [p.id for p in client.get_projects()] == [project.id]
    assert {t.name: t.image_count for t in client.get_tags(project.id)} == {"red": 5, "blue": 5}
    assert client.get_image_count(project.id) == 10
    kept = client.get_iteration(project.id, iteration.id)
    assert (kept.status, kept.publish_name) == ("Completed", "kept model")
    result = predictor(endpoint).classify_image(project.id, "kept model", image_bytes(BLUE, seed=4242))
    assert result.predictions[0].tag_name == "blue"
    performance = client.get_iteration_performance(project.id, iteration.id)
    assert len(performance.per_tag_performance) == 2
    with pytest.raises(HttpOperationError) as caught:
        client.train_project(project.id)
    assert caught.value.error.code == "BadRequestTrainingNotNeeded"
    assert tags


def test_state_survives_a_crash(process, tmp_path):
    data = tmp_path / "crashed"
    first, endpoint = process(data=data)
    client = trainer(endpoint)
    project, _ = tiny_project(client)
    first.kill()
    _, endpoint = process(data=data)
    assert trainer(endpoint).get_image_count(project.id) == 10


def test_private_urls_allowed_with_the_option(server):
    endpoint = server(allow_private_urls=True)
    project, _, _ = trained_tiny_project(trainer(endpoint))
    client = predictor(endpoint)
    files = {
        "/red.png": image_bytes(RED, fmt="PNG", seed=31),
        "/big.bmp": image_bytes(size=(1300, 1100), fmt="BMP"),
    }
    with serve_files(files) as base:
        for call in (client.classify_image_url, client.classify_image_url_with_no_store):
            assert call(project.id, "tiny-model", f"{base}/red.png").predictions[0].tag_name == "red"
        quick = trainer(endpoint).quick_test_image_url(project.id, f"{base}/red.png")
        assert quick.predictions[0].tag_name == "red"
        batch = ImageUrlCreateBatch(
            images=[ImageUrlCreateEntry(url=f"{base}/{name}") for name in ("red.png", "nope")]
        )
        summary = trainer(endpoint).create_images_from_urls(project.id, batch)
        assert [(r.source_url, r.status) for r in summary.images] == [
            (f"{base}/red.png", "OK"),
            (f"{base}/nope", "ErrorSource"),
        ]
        for path, code in (("/big.bmp", "BadRequestImageSizeBytes"), ("/missing.jpg", "BadRequestImageUrl")):
            with pytest.raises(HttpOperationError) as caught:
                client.classify_image_url(project.id, "tiny-model", base + path)
            assert caught.value.error.code == code


def test_training_interrupted_by_a_crash_finishes_after_restart(process, tmp_path):
    data = tmp_path / "interrupted"
    first, endpoint = process(data=data)
    client = trainer(endpoint)
    project, _ = tiny_project(client)
    started = client.train_project(project.id)
    first.kill()  # most likely mid-training; either way the iteration must end Completed
    _, endpoint = process(data=data)
    client = trainer(endpoint)
    assert wait_trained(client, project.id, started.id).status == "Completed"
    assert len(client.get_iterations(project.id)) == 1


def test_command_line_flags_reach_the_server(process, tmp_path):
    """--tier, --faults and --allow-private-urls on a real process (the options' effects are tested above)."""
    _, endpoint = process(
        "--tier", "F0", "--faults", "429:1.0", "--allow-private-urls", data=tmp_path / "flags"
    )
    client = trainer(endpoint)
    first = client.create_project("one")
    client.create_project("two")
    with pytest.raises(HttpOperationError) as caught:
        client.create_project("three")
    assert caught.value.error.code == "BadRequestExceedProjectLimit"
    with pytest.raises(HttpOperationError) as caught:
        predictor(endpoint).classify_image(MISSING, "x", b"x")
    assert caught.value.response.status_code == 429
    files = {"/red.png": image_bytes(RED, fmt="PNG", seed=31)}
    with serve_files(files) as base, pytest.raises(HttpOperationError) as caught:
        client.quick_test_image_url(first.id, f"{base}/red.png")
    assert (
        caught.value.error.code == "NotFoundProjectDefaultIteration"
    )  # fetched: the private URL was allowed


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"tier": "P1"}, "unknown tier 'P1'"),
        ({"faults": "boom:2"}, "--faults"),
        ({"fault_slow_seconds": -1}, "0 or more"),
    ],
)
def test_in_process_server_refuses_bad_options(tmp_path, options, says):
    with pytest.raises(ValueError, match=says):
        serve_in_thread(tmp_path / "data", TRAINING_KEY, PREDICTION_KEY, options=ServerOptions(**options))
