"""``make demo``: the Microsoft Learn exercise "Classify images with Custom Vision" on the local stack.

Through the pipeline's own interfaces only (storage and HTTP): training photos into ``training/{tag}/``,
POST /api/retrain and follow GET /api/retrain/{runId}, test photos into ``images/``, results read from
``results/*.json``; then the exercise's "more training images" and a second retrain that uploads only them.
Re-running is safe: photos already in storage are not uploaded again, so a retrain with nothing new says
so and the published model stays.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import requests
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from devstack import background, photos
from devstack.photos import TAGS, PhotosMissing
from devstack.runs import TERMINAL
from devstack.settings import StackError

RUN_TIMEOUT_SECONDS = 900
RESULT_TIMEOUT_SECONDS = 120


class DemoError(RuntimeError):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


class Demo:
    def __init__(self, settings: dict[str, Any]) -> None:
        values = {k: str(v) for k, v in (settings.get("Values") or {}).items()}
        connection = values.get("PIPELINE_STORAGE") or values.get("AzureWebJobsStorage")
        if not connection:
            raise DemoError(
                "PIPELINE_STORAGE in local.settings.json must be a connection string for the demo"
            )
        self.blobs = BlobServiceClient.from_connection_string(connection)
        self.containers = {
            name: values.get(f"{name.upper()}_CONTAINER") or name
            for name in ("images", "results", "training")
        }
        port = (settings.get("Host") or {}).get("LocalHttpPort") or 7071
        self.api = f"http://localhost:{port}/api"
        key = values.get("DEVHOST_FUNCTION_KEY") or values.get("DEVHOST_MASTER_KEY")
        if not key:
            raise DemoError("DEVHOST_FUNCTION_KEY is not set in local.settings.json Values")
        self.http = requests.Session()
        self.http.headers["x-functions-key"] = key

    def container(self, name: str) -> ContainerClient:
        client = self.blobs.get_container_client(self.containers[name])
        with contextlib.suppress(ResourceExistsError):
            client.create_container()
        return client

    # --- training ---------------------------------------------------------------------------------------
    def upload_training(self, folder: Path) -> tuple[int, int]:
        """Upload each photo to training/{tag}/{file} unless it is there; (uploaded, already there)."""
        training = self.container("training")
        uploaded = present = 0
        for tag in TAGS:
            for photo in photos.images(folder / tag):
                try:
                    training.upload_blob(f"{tag}/{photo.name}", photo.read_bytes(), overwrite=False)
                    uploaded += 1
                except ResourceExistsError:
                    present += 1
        return uploaded, present

    def retrain(self, route: str = "retrain") -> dict[str, Any]:
        """POST /api/retrain (or another run's ``route``: training/import), then follow the run until it
        ends; returns the final run record."""
        response = self.http.post(f"{self.api}/{route}", timeout=60)
        if response.status_code not in (200, 202):
            raise DemoError(f"POST /api/{route} answered {response.status_code}: {response.text[:500]}")
        started = response.json()
        run_id = started["runId"]
        verb = "started" if started.get("started", response.status_code == 202) else "joined the running"
        say(f"  {verb} retrain run {run_id}")
        began, shown, last_note = time.monotonic(), None, 0.0
        while True:
            reply = self.http.get(f"{self.api}/retrain/{run_id}", timeout=60)
            if reply.status_code != 200:
                raise DemoError(f"GET /api/retrain/{run_id} answered {reply.status_code}: {reply.text[:500]}")
            run = reply.json()
            elapsed = time.monotonic() - began
            state = (run.get("status"), run.get("step"))
            if state != shown:
                say(f"  [{elapsed:5.1f} s] {state[0]}: {state[1]}{_progress(run)}")
                shown, last_note = state, elapsed
            elif elapsed - last_note >= 10:
                say(f"  [{elapsed:5.1f} s] still {state[1]}{_progress(run)} ...")
                last_note = elapsed
            if run.get("status") in TERMINAL:
                return run
            if elapsed > RUN_TIMEOUT_SECONDS:
                raise DemoError(f"run {run_id} did not finish in {RUN_TIMEOUT_SECONDS} s; see `make logs`")
            time.sleep(1)

    def published_metrics(self) -> dict[str, Any] | None:
        """The metrics of the latest run that published a model (for a re-run with nothing new)."""
        runs = self.http.get(f"{self.api}/retrain", timeout=60).json().get("runs") or []
        for run in runs:
            if run.get("status") == "succeeded" and run.get("metrics"):
                return run["metrics"]
        return None

    # --- classification ---------------------------------------------------------------------------------
    def classify(self, photos: list[Path]) -> list[tuple[Path, dict[str, Any], float]]:
        """Drop the photos into images/ and wait for each one's results/{name}.json for that upload."""
        images, results = self.container("images"), self.container("results")
        pending: dict[str, tuple[Path, str, float]] = {}
        for photo in photos:
            uploaded_at = time.monotonic()
            blob = images.upload_blob(
                photo.name,
                photo.read_bytes(),
                overwrite=True,
                content_settings=ContentSettings(content_type="image/jpeg"),
            )
            pending[photo.name] = (photo, blob.get_blob_properties().etag, uploaded_at)
        say(f"  dropped {len(photos)} photos into {self.containers['images']}/; waiting for results ...")
        done: list[tuple[Path, dict[str, Any], float]] = []
        deadline = time.monotonic() + RESULT_TIMEOUT_SECONDS
        while pending:
            for name, (photo, etag, uploaded_at) in list(pending.items()):
                document = _read_json(results, f"{name}.json")
                if document and (document.get("blob") or {}).get("etag") in (etag, etag.strip('"')):
                    done.append((photo, document, time.monotonic() - uploaded_at))
                    del pending[name]
            if time.monotonic() > deadline:
                raise DemoError(
                    f"no result for {', '.join(pending)} after {RESULT_TIMEOUT_SECONDS} s; see `make logs`"
                )
            time.sleep(0.1)
        return sorted(done, key=lambda item: item[0].name)


def _read_json(container: ContainerClient, name: str) -> dict[str, Any] | None:
    try:
        return json.loads(container.download_blob(name).readall())
    except ResourceNotFoundError:
        return None
    except ValueError:
        return None  # being written


def _progress(run: dict[str, Any]) -> str:
    sync = run.get("sync") or {}
    iteration = run.get("iteration") or {}
    if run.get("step") == "sync" and sync.get("listed"):
        done = sum(sync.get(kind, 0) for kind in ("uploaded", "retagged", "replaced", "deleted"))
        return f" ({done} training images mirrored so far)"
    if iteration.get("status"):
        return f" (iteration {iteration.get('name') or iteration.get('id', '')}: {iteration['status']})"
    return ""


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "n/a"


def show_run(run: dict[str, Any]) -> None:
    sync = run.get("sync") or {}
    say(
        f"  run {run.get('status')}: {sync.get('uploaded', 0)} images uploaded to Custom Vision, "
        f"{sync.get('unchanged', 0)} unchanged, {sync.get('duplicates', 0)} duplicates"
    )
    if run.get("reason"):
        say(f"  reason: {run['reason']}")
    if run.get("metrics"):
        show_metrics(run["metrics"])
    published = run.get("published")
    if published:
        name = published.get("publishedName") if isinstance(published, dict) else published
        say(f"  published as {name!r}")


def show_metrics(metrics: dict[str, Any]) -> None:
    threshold = metrics.get("threshold")
    say(
        f"  performance at {_pct(threshold)} threshold: precision {_pct(metrics.get('precision'))}, "
        f"recall {_pct(metrics.get('recall'))}, AP {_pct(metrics.get('averagePrecision'))}"
    )
    for tag in metrics.get("perTag") or []:
        say(
            f"    {tag.get('tagName'):8} precision {_pct(tag.get('precision'))}, recall "
            f"{_pct(tag.get('recall'))}, AP {_pct(tag.get('averagePrecision'))}"
        )


def show_results(results: list[tuple[Path, dict[str, Any], float]]) -> None:
    for photo, document, seconds in results:
        if document.get("status") != "ok":
            error = document.get("error") or {}
            say(f"  {photo.name}: error {error.get('code')}: {error.get('message')}")
            continue
        predictions = document.get("predictions") or []
        threshold = document.get("threshold", 0.5)
        shown = [p for p in predictions if p.get("probability", 0) > threshold] or predictions[:1]
        for prediction in shown:
            label = f"{prediction['tagName']} ({prediction['probability']:.0%})"
            say(f"  {photo.name}: {label}   [result {seconds:.2f} s after upload]")


def run() -> int:
    root = photos.require()
    say("== 1. Local stack (Azurite, localvision, devhost)")
    settings = background.up()
    demo = Demo(settings)

    say(f"\n== 2. Training photos -> {demo.containers['training']}/{{apple,banana,orange}}/ (from {root})")
    uploaded, present = demo.upload_training(root / "training-images")
    say(f"  uploaded {uploaded} photos" + (f" ({present} were already there)" if present else ""))

    say("\n== 3. Train and publish: POST /api/retrain, then GET /api/retrain/{runId}")
    first = demo.retrain()
    show_run(first)
    if not first.get("metrics"):
        metrics = demo.published_metrics()
        if metrics:
            say("  the published model is the one trained before:")
            show_metrics(metrics)

    say(f"\n== 4. Classify the test photos: drop them into {demo.containers['images']}/, read results/*.json")
    show_results(demo.classify(photos.images(root / "test-images")))

    say("\n== 5. More training photos, then retrain: only the new ones are uploaded")
    uploaded, present = demo.upload_training(root / "more-training-images")
    say(f"  uploaded {uploaded} photos" + (f" ({present} were already there)" if present else ""))
    if not uploaded:
        say(
            "  (they were added by an earlier `make demo`; `make clean` then `make demo` starts from scratch)"
        )
    second = demo.retrain()
    show_run(second)

    say("\n== Done. The stack is still running:")
    for line in background.describe(settings)[1:]:
        say(line if line.startswith(" ") else f"  {line}")
    say("  drop more photos:  az storage blob upload --connection-string UseDevelopmentStorage=true "
        f"-c {demo.containers['images']} -f photo.jpg -n photo.jpg")  # fmt: skip
    say(f"\nConsole: {demo.api}/console/  (function key: DEVHOST_FUNCTION_KEY in local.settings.json)")
    return 0


def main() -> int:
    try:
        return run()
    except (DemoError, PhotosMissing, StackError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"\nerror: the Function app did not answer ({exc}); see `make logs`", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; the stack keeps running (make down stops it)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
