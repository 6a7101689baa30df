"""The Microsoft Learn fruit lab done through the console only, on a fresh local stack with no project:
tags made by uploading the 45 training photos, a retrain followed live, the threshold slider, 6 more photos
and a second iteration compared with the first, a publish by hand and back, a deleted iteration, the ONNX
export, the 3 test photos classified, and the review queue labelled by keyboard and by touch on a phone.
axe audits every state; each screen is photographed on a desktop and on a phone (CONSOLE_SCREENSHOTS).

The 3 test photos reach the pipeline the way a camera's would: written into the images container (the
pipeline's input); everything else is done in the browser.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from devstack import photos
from devstack.stack import LocalStack
from tests.console.accessibility import audit
from tests.console.conftest import DESKTOP, PHONE, Watched
from tests.robustness.conftest import FAST_SETTINGS, Stack, fruit_photos

pytestmark = pytest.mark.slow  # the whole stack, two trainings, a browser
LAB_SETTINGS = {
    **FAST_SETTINGS,
    "CUSTOMVISION_DOMAIN": "General (compact)",  # exportable: the ONNX download
    "KEEP_ITERATIONS": "10",
}
SCREENS = ("results", "review", "training", "runs", "quick")
# Photos of no fruit at all, as a camera might send them: the model says it does not know, so they wait in
# review (reason "unknown") and are taught as Negative examples there.
STRANGERS = ("flat-blue-wall.jpg", "desk-rectangles.jpg", "photo-chelsea.jpg")
OUT_OF_CLASS = Path(__file__).resolve().parents[2] / "samples" / "out-of-class"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    fruit = fruit_photos()
    stack = LocalStack.start(tmp_path_factory.mktemp("lab"), in_process=True)
    try:
        stack.start_devhost(LAB_SETTINGS)
        yield Stack(stack, "", fruit)
    finally:
        stack.stop()


class Console:
    """One browser context on the lab's console, with the key entered."""

    def __init__(self, browser: Any, lab: Stack, viewport: tuple[int, int]) -> None:
        width, height = viewport
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, has_touch=width < 600, accept_downloads=True
        )
        self.watched = Watched(self.context.new_page())
        self.page = self.watched.page
        self.base = f"{lab.stack.devhost_url}/api/console/"
        self.page.goto(self.base)
        self.page.fill("#key-input", lab.stack.values["DEVHOST_FUNCTION_KEY"])
        self.page.click("#key-form button")
        self.page.wait_for_selector("#key-panel", state="hidden")

    def go(self, screen: str, ready: str) -> None:
        self.page.goto(f"{self.base}#{screen}")
        self.page.wait_for_selector(f"#main[data-page='{screen}']")
        self.page.wait_for_selector(ready, state="attached")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)


def shoot(console: Console, folder: Path, name: str) -> None:
    page = console.page
    page.wait_for_function(
        "() => [...document.querySelectorAll('#main img')].every(i => i.complete && i.naturalWidth)",
        timeout=15_000,
    )
    page.screenshot(path=str(folder / f"console-{name}.png"), full_page=True)


def upload(console: Console, tag: str, files: list[Path], new: bool) -> None:
    page = console.page
    if new:
        page.select_option("#upload-tag", "")
        page.fill("#upload-new-tag", tag)
    else:
        page.select_option("#upload-tag", tag)
    page.set_input_files("#upload-files", [str(f) for f in files])
    try:
        page.wait_for_function(
            "t => document.querySelector('#upload-status').textContent.includes(` photos added to ${t}`)",
            arg=tag,
            timeout=120_000,
        )
    except PlaywrightError:
        raise AssertionError(f"{tag}: {page.inner_text('#upload')!r} {console.watched.errors}") from None
    said = (page.inner_text("#upload-status"), page.inner_text("#upload-errors"))
    assert said == (f"{len(files)} of {len(files)} photos added to {tag}.", ""), said
    assert page.get_attribute("#upload-progress", "value") == str(len(files))


def retrain(console: Console) -> dict[str, Any]:
    page = console.page
    console.go("runs", "#retrain-now")
    page.click("#retrain-now")
    page.wait_for_selector("#run-live-status")
    audit(page, "a retrain followed live")
    page.wait_for_function(
        "() => ['succeeded', 'rejected', 'skipped', 'failed'].includes("
        "document.querySelector('#run-live-status')?.textContent)",
        timeout=300_000,
    )
    status = console.text("#run-live-status")
    assert status in ("succeeded", "rejected"), console.text("#run-live")
    page.wait_for_selector("#iterations")
    return {"status": status}


def iterations(lab: Stack, threshold: float | None = None) -> list[dict[str, Any]]:
    query = f"?threshold={threshold}" if threshold is not None else ""
    status, body, _ = lab.http("GET", f"api/console-api/runs{query}")
    assert status == 200
    return [it for it in json.loads(body)["iterations"] if it["status"] == "Completed"]


def two_step(console: Console, iteration_id: str, action: str) -> None:
    button = console.page.locator(f"tr[data-iteration-id='{iteration_id}'] button[data-action='{action}']")
    button.click()
    button.click()


def test_the_fruit_lab_through_the_console(lab: Stack, browser: Any, screenshots: Path):
    fruit = lab.fruit
    desk = Console(browser, lab, DESKTOP)
    page = desk.page

    # 1. First run: what to do, in plain words, and where the photos go.
    page.wait_for_selector("#first-run")
    intro = desk.text("#first-run")
    assert "Start by adding photos" in intro and "one folder per tag" in intro
    assert "CUSTOMVISION" not in page.inner_text("body") and desk.text("#status") == ""
    audit(page, "the first-run screen")
    shoot(desk, screenshots, "first-run-desktop")

    # 2. Three new tags, made by uploading the 45 training photos; a non-image is refused by name.
    for tag in photos.TAGS:
        upload(desk, tag, photos.images(fruit / "training-images" / tag), new=True)
    counts = {t: int(desk.text(f"section[data-tag='{t}'] .count").strip("()")) for t in photos.TAGS}
    assert counts == {"apple": 15, "banana": 15, "orange": 15}
    training = lab.container("TRAINING_CONTAINER")
    assert sorted(b.name.split("/")[0] for b in training.list_blobs()) == sorted([*photos.TAGS] * 15)
    page.evaluate(  # a drop of one file that is no photo: refused, named, nothing stored
        """() => { const t = new DataTransfer(); t.items.add(new File(['just text'], 'notes.txt',
        { type: 'text/plain' })); const z = document.querySelector('#upload-drop');
        z.dispatchEvent(new DragEvent('drop', { dataTransfer: t, bubbles: true, cancelable: true })); }"""
    )
    page.wait_for_selector("#upload-errors li")
    assert desk.text("#upload-errors li").startswith("notes.txt: The file is empty, corrupt")
    duplicate = photos.images(fruit / "training-images" / "apple")[0]
    upload_again = page.locator("#upload-files")
    page.select_option("#upload-tag", "banana")
    upload_again.set_input_files(str(duplicate))
    page.wait_for_function("() => document.querySelector('#upload-status').textContent.startsWith('0 of 1')")
    assert f"is the same photo as training/apple/{duplicate.name}" in desk.text("#upload-errors li")
    audit(page, "the training set after uploads with refusals")
    shoot(desk, screenshots, "training-desktop")

    # 3. Retrain (the project is created), follow it, then move the threshold slider.
    assert retrain(desk)["status"] == "succeeded"
    first = iterations(lab)[0]
    page.focus("#threshold")
    page.keyboard.press("End")  # the keyboard moves the slider to its top, 0.99
    page.wait_for_function("() => document.querySelector('#iterations-title').textContent.includes('0.99')")
    at_099 = iterations(lab, 0.99)[0]["metrics"]
    shown = page.locator(f"#iterations tr[data-iteration-id='{first['id']}'] td[data-metric='recall']")
    assert float(shown.get_attribute("data-value")) == at_099["recall"]
    assert (
        desk.text(f"#iterations tr[data-iteration-id='{first['id']}'] .counts")
        == "apple 15, banana 15, orange 15"
    )
    audit(page, "the runs page at threshold 0.99")

    # 4. The 6 more photos into the existing tags, a second iteration, the two side by side.
    desk.go("training", "#upload-tag option[value='apple']")
    for tag in photos.TAGS:
        upload(desk, tag, photos.images(fruit / "more-training-images" / tag), new=False)
    retrain(desk)
    both = iterations(lab)
    assert len(both) == 2
    one, two = both
    page.select_option("#compare-a", one["id"])
    page.select_option("#compare-b", two["id"])
    row = desk.text("#compare-table tr[data-tag='apple']")
    assert row.split("\t")[-2:] == ["15", "17"], row
    page.click("#compare-images-button")  # the images whose predicted tag changed (the 45 in both)
    page.wait_for_function("() => document.querySelector('#compare-images-summary')")
    assert " of the 45 images in both iterations changed" in desk.text("#compare-images-summary")
    audit(page, "two iterations side by side")
    shoot(desk, screenshots, "runs-desktop")

    # 5. Publish iteration 1 by hand, then the other one back; delete iteration 1.
    published = next(it for it in both if it["publishedName"])
    other = two if published["id"] == one["id"] else one
    two_step(desk, other["id"], "publish")
    page.wait_for_function(
        "n => document.querySelector('#iteration-message').textContent.startsWith(n + ' is published')",
        arg=other["name"],
    )
    assert [it["id"] for it in iterations(lab) if it["publishedName"]] == [other["id"]]
    assert "published by hand" in lab.devhost_log()
    by_hand = [
        r for r in json.loads(lab.http("GET", "api/console-api/runs")[1])["runs"] if r["trigger"] == "console"
    ]
    assert [(r["step"], r["iteration"]["id"], r["status"]) for r in by_hand] == [
        ("publish", other["id"], "succeeded")
    ]
    two_step(desk, published["id"], "publish")
    page.wait_for_function(
        "n => document.querySelector('#iteration-message').textContent.startsWith(n + ' is published')",
        arg=published["name"],
    )
    two_step(desk, other["id"], "delete")
    page.wait_for_function(
        "n => document.querySelector('#iteration-message').textContent === n + ' is deleted.'",
        arg=other["name"],
    )
    assert [it["id"] for it in iterations(lab)] == [published["id"]]
    audit(page, "the runs page after a delete")

    # 6. The ONNX export of the published iteration, as a download.
    with page.expect_download(timeout=180_000) as download:
        page.click(f"tr[data-iteration-id='{published['id']}'] button[data-action='export']")
    names = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())).namelist()
    assert any(n.endswith(".onnx") for n in names), names

    # 7. The 3 test photos: the quick test with the chosen iteration, then through the pipeline.
    desk.go("quick", f"#quick-model option[value='{published['id']}']")
    page.select_option("#quick-model", published["id"])
    for file, tag in photos.TEST_TAGS.items():
        page.set_input_files("#quick-file", str(fruit / "test-images" / file))
        page.wait_for_function("f => document.querySelector('#quick-output h3')?.textContent === f", arg=file)
        assert desk.text("#quick-output .bar .label") == tag
        assert desk.text("#quick-answered").startswith(f"Answered by {published['name']}")
    audit(page, "the quick test against a chosen iteration")
    shoot(desk, screenshots, "quick-test-desktop")
    for file in photos.TEST_TAGS:
        lab.images.upload_blob(file, (fruit / "test-images" / file).read_bytes())
    for file in STRANGERS:
        lab.images.upload_blob(file, (OUT_OF_CLASS / file).read_bytes())
    dropped = [*photos.TEST_TAGS, *STRANGERS]
    lab.wait_for_documents(dropped)
    desk.go("results", ".tile")
    written = {
        f: lab.results.get_blob_client(f"{f}.json").get_blob_properties().last_modified for f in dropped
    }
    newest = max(dropped, key=lambda f: (written[f], f))
    assert page.locator(".tile").first.get_attribute("data-name") == newest
    page.click(".tile[data-name='IMG_TEST_2.jpg']")
    page.wait_for_selector("#result-detail .bar")
    assert desk.text("#result-detail .bar .label") == "banana"
    assert published["id"] in desk.text("#result-answered")
    audit(page, "a test photo's result")
    shoot(desk, screenshots, "result-detail-desktop")
    page.keyboard.press("Escape")
    shoot(desk, screenshots, "results-desktop")

    # 8. The review queue holds the three strangers, not the fruit: two are taught as Negative by keyboard
    # on the desktop, one by touch on a phone.
    review = lab.container("REVIEW_CONTAINER")
    assert sorted(b.name for b in review.list_blobs()) == sorted(STRANGERS)
    for file in STRANGERS:
        document = json.loads(lab.results.download_blob(f"{file}.json").readall())
        assert document["reviewReason"] == "unknown", (file, document["predictions"])
    desk.go("review", "#review-name")
    shoot(desk, screenshots, "review-desktop")
    for _ in range(2):
        name = desk.text("#review-name")
        page.keyboard.press("n")
        page.wait_for_function(
            "n => document.querySelector('#review-last').textContent.startsWith(n)", arg=name
        )
    phone = Console(browser, lab, PHONE)
    phone.go("review", "#review-name")
    audit(phone.page, "the review queue on a phone")
    shoot(phone, screenshots, "review-phone")
    name = phone.text("#review-name")
    phone.page.tap("#review-current button:text-is('n Negative')")
    phone.page.wait_for_function(
        "n => document.querySelector('#review-last').textContent.startsWith(n)", arg=name
    )
    assert not list(review.list_blobs())
    for file in STRANGERS:
        assert training.download_blob(f"_negative/{file}").readall() == (OUT_OF_CLASS / file).read_bytes()

    # 9. Every screen on a phone, and the rest on the desktop.
    phone_screens = [("results", ".tile"), ("training", "#training-tags section"), ("runs", "#iterations")]
    for screen, ready in [*phone_screens, ("quick", "#quick-drop")]:
        phone.go(screen, ready)
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE[0], screen
        audit(phone.page, f"{screen} on a phone")
        shoot(phone, screenshots, f"{screen.replace('quick', 'quick-test')}-phone")
    for console in (desk, phone):
        assert not console.watched.dialogs and not console.watched.errors, console.watched.errors
        console.context.close()
