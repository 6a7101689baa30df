"""The console in headless Chromium on the real local stack with the fruit model."""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.console.accessibility import audit
from tests.console.conftest import Watched
from tests.robustness.conftest import Stack
from tests.support.waiting import wait_until

PlaywrightError = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -r requirements-dev.txt"
).Error
HOSTILE_NAMES = ["<img src=x onerror=alert(1)>.jpg", "quote\"and'apostrophe.jpg"]


def shot(watched: Watched, folder: Path, name: str) -> None:
    """A screenshot once the previews on the page have loaded (or 15 s have passed)."""
    with contextlib.suppress(PlaywrightError):
        watched.page.wait_for_function(
            "() => [...document.querySelectorAll('main img')]"
            ".every(i => i.src && i.complete && i.naturalWidth)",
            timeout=15_000,
        )
    watched.page.screenshot(path=str(folder / f"console-{name}.png"), full_page=True)


def data_responses(watched: Watched) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    watched.page.on(
        "response", lambda r: seen.append((r.url, r.status)) if "/api/console-api/" in r.url else None
    )
    return seen


def test_without_a_key_the_page_asks_for_it_and_a_wrong_key_is_refused(open_console, screenshots):
    watched = open_console(key=None)
    page = watched.page
    seen = data_responses(watched)
    page.wait_for_selector("#key-panel", state="visible")
    assert "Enter the function key" in page.inner_text("#key-message")
    assert page.inner_text("#main") == ""
    page.fill("#key-input", "not-the-key")
    page.click("#key-form button")
    page.wait_for_function("() => document.querySelector('#key-message').textContent.includes('refused')")
    assert "The function key was refused" in page.inner_text("#key-message")
    assert page.is_visible("#key-panel") and page.inner_text("#main") == ""
    assert seen and all(status == 401 for _, status in seen), seen
    assert all("not-the-key" not in url for url, _ in seen)  # the key never goes into a URL
    shot(watched, screenshots, "key")
    audit(page, "the key panel after a refused key")
    assert not watched.dialogs and not watched.errors


def test_the_key_stays_in_the_tab_and_never_in_a_url(open_console, function_key):
    watched = open_console("results")
    page = watched.page
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.reload()
    page.wait_for_function("() => document.querySelector('#results-info')?.textContent.includes('read')")
    assert page.evaluate("Object.values(sessionStorage)") == [function_key]
    assert page.evaluate("Object.values(localStorage)") == []
    assert urls and all(function_key not in url for url in urls)


def upload_and_wait(stack: Stack, files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    for name, data in files.items():
        stack.images.upload_blob(name, data, overwrite=True)
    return stack.wait_for_documents(list(files))


def texts(watched: Watched, selector: str) -> list[str]:
    return watched.page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.textContent)")


def load_until_shown(watched: Watched, names: list[str]) -> None:
    """Load gallery pages ("Load more") until every name has a tile."""
    page = watched.page
    page.wait_for_function("() => document.querySelector('#results-info').textContent.includes('read')")
    for _ in range(50):
        if set(names) <= set(texts(watched, ".tile .name")):
            return
        assert page.is_visible("#results-more"), f"{names} not in the gallery"
        before = page.inner_text("#results-info")
        page.click("#results-more")
        page.wait_for_function(
            "t => { const now = document.querySelector('#results-info').textContent;"
            " return now !== t && now.includes('read'); }",
            arg=before,
        )
    raise AssertionError(f"{names} not found after 50 pages")


def test_hostile_blob_names_show_as_text_and_no_script_runs(console_stack: Stack, open_console, screenshots):
    apple = sorted((console_stack.fruit / "test-images").glob("*.jpg"))[0].read_bytes()
    upload_and_wait(console_stack, {name: apple for name in HOSTILE_NAMES})
    watched = open_console("results")
    page = watched.page
    load_until_shown(watched, HOSTILE_NAMES)
    page.locator(".tile", has_text="onerror").first.click()
    page.wait_for_selector("#result-detail h2")
    assert page.inner_text("#result-detail h2") == HOSTILE_NAMES[0]
    assert json.loads(page.text_content("#result-detail pre"))["blob"]["name"] == HOSTILE_NAMES[0]
    page.wait_for_selector("#result-detail img.preview[src^='blob:']")
    audit(page, "a result with a hostile name in the drawer")
    page.goto(page.url.split("#")[0] + "#review")
    page.wait_for_selector("#review-strip li")
    audit(page, "the review queue with hostile names")
    review_names = texts(watched, "#review-strip .name")
    assert set(HOSTILE_NAMES) <= set(review_names)
    page.wait_for_timeout(500)  # time for any injected handler to fire
    assert page.evaluate("document.querySelectorAll('[onerror], img[src=\"x\"]').length") == 0
    assert not watched.dialogs, watched.dialogs
    assert not watched.errors, watched.errors


def wait_run_finished(watched: Watched, timeout_ms: int = 240_000) -> str:
    watched.page.wait_for_function(
        "() => ['succeeded', 'rejected', 'skipped', 'failed'].includes("
        "document.querySelector('#run-live-status')?.textContent)",
        timeout=timeout_ms,
    )
    return watched.page.inner_text("#run-live-status")


def test_labelling_with_keystrokes_then_retrain_and_the_runs_page(
    console_stack: Stack, open_console, screenshots
):
    fruit = console_stack.fruit / "more-training-images"
    prefix = f"label-{uuid.uuid4().hex[:6]}"
    ours = {f"{prefix}/{tag}-{path.name}": (tag, path) for tag in ("apple", "banana", "orange")
            for path in sorted((fruit / tag).glob("*.jpg"))[:1]}  # fmt: skip
    upload_and_wait(console_stack, {name: path.read_bytes() for name, (_, path) in ours.items()})
    review = console_stack.container("REVIEW_CONTAINER")
    assert all(review.get_blob_client(name).exists() for name in ours)

    watched = open_console("review")
    page = watched.page
    page.wait_for_selector("#review-name")
    shot(watched, screenshots, "review")
    audit(page, "the review queue")
    keys = {"apple": "1", "banana": "2", "orange": "3"}
    labelled: list[str] = []
    undone = False
    for _ in range(60):
        if len(labelled) == len(ours):
            break
        current = page.inner_text("#review-name")
        if current not in ours:
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "n => document.querySelector('#review-name')?.textContent !== n", arg=current
            )
            continue
        # REVIEW_THRESHOLD=1 on this stack: fruit photos wait for low confidence, not as unknown
        assert page.get_attribute("#review-reason", "data-reason") == "low_confidence"
        assert page.inner_text("#review-reason").startswith("Low confidence")
        page.keyboard.press(keys[ours[current][0]])
        page.wait_for_function(
            "n => document.querySelector('#review-last').textContent.startsWith(n)", arg=current
        )
        if not undone:  # the first decision is undone once, then taken again
            page.keyboard.press("u")
            page.wait_for_function(
                "() => document.querySelector('#review-last').textContent.startsWith('Undone')"
            )
            assert review.get_blob_client(current).exists()
            audit(page, "the review queue after an undo")
            undone = True
            continue
        labelled.append(current)
    assert sorted(labelled) == sorted(ours)
    training = console_stack.container("TRAINING_CONTAINER")
    in_training = {b.name for b in training.list_blobs()}
    for name, (tag, path) in ours.items():
        file = name.rsplit("/", 1)[1]
        assert f"{tag}/{file}" in in_training
        assert training.download_blob(f"{tag}/{file}").readall() == path.read_bytes()
        assert not review.get_blob_client(name).exists()

    page.goto(page.url.split("#")[0] + "#runs")
    page.wait_for_selector("#retrain-now")
    page.click("#retrain-now")
    audit(page, "the runs page following a retrain")
    final = wait_run_finished(watched)
    assert final in ("succeeded", "rejected"), page.inner_text("#run-live")
    run_id = page.inner_text("#run-live strong").removeprefix("Run ").rstrip(": ")
    status, body, _ = console_stack.http("GET", f"api/retrain/{run_id}")
    run = json.loads(body)
    assert status == 200 and run["status"] == final
    assert run["sync"]["uploaded"] == 3, run["sync"]
    assert "uploaded 3" in page.inner_text(f"tr[data-run-id='{run_id}']")

    # The runs page: the run's iteration shows the run record's metrics; one chart point per iteration.
    page.wait_for_selector(f"tr[data-iteration-id='{run['iteration']['id']}']")
    row = page.locator(f"#iterations tr[data-iteration-id='{run['iteration']['id']}']")
    for metric in ("precision", "recall", "averagePrecision"):
        shown = row.locator(f"td[data-metric='{metric}']")
        assert float(shown.get_attribute("data-value")) == run["metrics"][metric]
        assert shown.inner_text() == f"{run['metrics'][metric]:.3f}"
    # localvision's expected calibration error, an extra field of the iteration's performance
    reported = trainer(console_stack).get_iteration_performance(
        run["projectId"], run["iteration"]["id"], threshold=run["metrics"]["threshold"]
    )
    ece = round(reported.additional_properties["expectedCalibrationError"], 6)
    shown = row.locator("td[data-metric='expectedCalibrationError']")
    assert 0.0 <= ece <= 1.0 and float(shown.get_attribute("data-value")) == ece
    assert shown.inner_text() == f"{ece:.3f}"
    completed = [
        i for i in trainer(console_stack).get_iterations(run["projectId"]) if i.status == "Completed"
    ]
    assert len(completed) >= 2
    for metric in ("precision", "recall", "averagePrecision"):
        points = page.locator(f"#metrics-chart circle.point.{metric}")
        assert points.count() == len(completed)
    assert page.locator("#iterations tbody tr").count() == len(completed)
    shot(watched, screenshots, "runs")
    audit(page, "the runs page with two iterations")
    assert not watched.dialogs and not watched.errors, (watched.dialogs, watched.errors)


def trainer(stack: Stack) -> Any:
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials

    key = stack.stack.values["CUSTOMVISION_TRAINING_KEY"]
    return CustomVisionTrainingClient(
        stack.stack.endpoint, ApiKeyCredentials(in_headers={"Training-key": key})
    )


def test_results_filters_detail_and_add_to_training(console_stack: Stack, open_console, screenshots):
    tag = uuid.uuid4().hex[:6]
    orange = sorted((console_stack.fruit / "test-images").glob("*.jpg"))[2].read_bytes()
    broken, good = f"results-{tag}/broken.jpg", f"results-{tag}/orange.jpg"
    upload_and_wait(console_stack, {broken: b"not an image at all", good: orange})
    watched = open_console("results")
    page = watched.page
    load_until_shown(watched, [good])
    shot(watched, screenshots, "results")
    audit(page, "the results gallery")
    page.select_option("select[name=status]", "error")
    load_until_shown(watched, [broken])
    assert page.locator(".tile.ok").count() == 0
    assert "NotAnImage" in page.inner_text(f".tile[data-name='{broken}']")
    audit(page, "the results gallery filtered to errors")
    page.select_option("select[name=status]", "")
    page.select_option("select[name=band]", "0.95-1")
    page.select_option("select[name=tag]", "orange")
    load_until_shown(watched, [good])
    assert set(texts(watched, ".tile .toptag")) <= {f"orange {p / 10:.1f}%" for p in range(950, 1001)}
    page.select_option("select[name=reason]", "low_confidence")  # REVIEW_THRESHOLD=1 on this stack
    load_until_shown(watched, [good])
    assert page.inner_text(f".tile[data-name='{good}'] .badge.review") == "low confidence"
    page.click(f".tile[data-name='{good}']")
    page.wait_for_selector("#result-detail img.preview[src^='blob:']")
    shot(watched, screenshots, "result-detail")
    audit(page, "a result in the drawer")
    page.select_option("select[name=label-tag]", "orange")
    page.click("#label-add")
    page.wait_for_function("() => document.querySelector('#label-outcome').textContent.startsWith('Added')")
    audit(page, "a result added to training")
    training = console_stack.container("TRAINING_CONTAINER")
    assert training.download_blob("orange/orange.jpg").readall() == orange
    assert not console_stack.container("REVIEW_CONTAINER").get_blob_client(good).exists()
    assert not watched.dialogs and not watched.errors, (watched.dialogs, watched.errors)


def test_training_set_move_and_delete(console_stack: Stack, open_console, screenshots):
    tag = uuid.uuid4().hex[:6]
    training = console_stack.container("TRAINING_CONTAINER")
    apple = sorted((console_stack.fruit / "training-images" / "apple").glob("*.jpg"))
    moved, deleted = f"apple/a-{tag}.jpg", f"apple/b-{tag}.jpg"
    training.upload_blob(moved, apple[0].read_bytes())
    training.upload_blob(deleted, apple[1].read_bytes())
    watched = open_console("training")
    page = watched.page
    page.wait_for_selector(f"li.card[data-name='{moved}'] img.thumb[src^='blob:']")
    counts = {
        t: int(page.inner_text(f"section[data-tag='{t}'] .count").strip("()")) for t in ("apple", "orange")
    }
    assert counts["apple"] == sum(1 for _ in training.list_blobs(name_starts_with="apple/"))
    shot(watched, screenshots, "training")
    audit(page, "the training set")
    page.select_option(f"li.card[data-name='{moved}'] select", "orange")
    page.click(f"li.card[data-name='{moved}'] button:text-is('Move')")
    wait_until(lambda: training.get_blob_client(f"orange/a-{tag}.jpg").exists(), 30, "the moved blob")
    assert not training.get_blob_client(moved).exists()
    page.wait_for_selector(f"li.card[data-name='orange/a-{tag}.jpg']")
    assert page.inner_text("section[data-tag='orange'] .count") == f"({counts['orange'] + 1})"
    button = page.locator(f"li.card[data-name='{deleted}'] button.danger")
    button.click()
    assert training.get_blob_client(deleted).exists()  # the first click only arms it
    audit(page, "the training set with a delete armed")
    button.click()
    wait_until(lambda: not training.get_blob_client(deleted).exists(), 30, "the deleted blob gone")
    assert not watched.dialogs and not watched.errors, (watched.dialogs, watched.errors)


def test_quick_test_of_img_test_2_shows_banana_first(console_stack: Stack, open_console, screenshots):
    watched = open_console("quick")
    page = watched.page
    page.set_input_files("#quick-file", str(console_stack.fruit / "test-images" / "IMG_TEST_2.jpg"))
    page.wait_for_selector("#quick-output .bar")
    labels = texts(watched, "#quick-output .bar .label")
    assert labels[0] == "banana"
    assert sorted(labels) == ["apple", "banana", "orange"]
    assert float(texts(watched, "#quick-output .bar .value")[0].rstrip("%")) >= 90
    page.wait_for_timeout(200)
    shot(watched, screenshots, "quick-test")
    audit(page, "the quick test with an answer")
    assert not watched.dialogs and not watched.errors, (watched.dialogs, watched.errors)


def test_several_images_moved_and_deleted_together_and_the_untagged_count(console_stack: Stack, open_console):
    training = console_stack.container("TRAINING_CONTAINER")
    tag = uuid.uuid4().hex[:6]
    apple = sorted((console_stack.fruit / "training-images" / "apple").glob("*.jpg"))
    names = [f"apple/sel-{tag}-{i}.jpg" for i in range(3)]
    for name, path in zip(names, apple, strict=False):
        training.upload_blob(name, path.read_bytes())
    waiting = sum(1 for _ in console_stack.container("REVIEW_CONTAINER").list_blobs())
    watched = open_console("training")
    page = watched.page
    for name in names[:2]:
        page.check(f"li.card[data-name='{name}'] input.pick-box")
    assert page.inner_text("#selection-count") == "2 selected"
    audit(page, "the training set with two images selected")
    page.select_option("#selection-tag", "banana")
    page.click("#selection-move")
    page.wait_for_function(
        "() => document.querySelector('#status').textContent === 'Moved 2 images to banana.'"
    )
    moved = [f"banana/{n.rsplit('/', 1)[1]}" for n in names[:2]]
    assert all(training.get_blob_client(n).exists() for n in moved)
    assert not any(training.get_blob_client(n).exists() for n in names[:2])
    assert page.is_hidden("#selection")
    for name in [*moved, names[2]]:
        page.check(f"li.card[data-name='{name}'] input.pick-box")
    page.click("#selection-delete")
    assert training.get_blob_client(names[2]).exists()  # the first click only asks
    page.click("#selection-delete")
    page.wait_for_function(
        "() => document.querySelector('#status').textContent === 'Deleted 3 images from the training set.'"
    )
    assert not any(training.get_blob_client(n).exists() for n in [*moved, names[2]])
    if waiting:
        assert page.inner_text("#training-untagged").startswith(f"{waiting} image")
        assert page.get_attribute("#training-untagged a", "href") == "#review"
    assert not watched.dialogs and not watched.errors, (watched.dialogs, watched.errors)
