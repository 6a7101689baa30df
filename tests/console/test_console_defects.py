"""The defects a user test found in the console, one browser test each (headless Chromium on the real local
stack), with axe on every state visited."""

from __future__ import annotations

import json
import re
import types
import uuid
from typing import Any

import pytest

from shared.retrain.gate import decide
from shared.runs.record import Metrics, Status, Trigger
from shared.runs.store import Run, RunStore, new_record, new_run_id
from tests.console.accessibility import audit
from tests.console.conftest import DESKTOP, PHONE, Watched
from tests.console.test_console_browser import texts, upload_and_wait
from tests.robustness.conftest import Stack
from tests.support.waiting import wait_until

ERROR_RGB = "rgb(179, 38, 30)"  # --error in console.css


def photos(stack: Stack, count: int) -> list[bytes]:
    return [p.read_bytes() for p in sorted((stack.fruit / "test-images").glob("*.jpg"))][:count]


def seed_review(stack: Stack, count: int) -> list[str]:
    """``count`` new images classified into review/ (REVIEW_THRESHOLD=1 sends every one there)."""
    prefix = f"seed-{uuid.uuid4().hex[:6]}"
    images = photos(stack, 3)
    names = {f"{prefix}/{i}.jpg": images[i % len(images)] for i in range(count)}
    upload_and_wait(stack, names)
    return list(names)


def select_in_review(watched: Watched, name: str) -> None:
    """Make ``name`` the current image of the review queue (a click on its entry in the strip)."""
    page = watched.page
    page.wait_for_selector(f"#review-strip li[data-name='{name}']")
    page.click(f"#review-strip li[data-name='{name}']")
    page.wait_for_function("n => document.querySelector('#review-name')?.textContent === n", arg=name)
    page.wait_for_selector("#review-current img.preview[src^='blob:']")


def undo_once(watched: Watched, name: str) -> None:
    watched.page.click("#review-undo")
    watched.page.wait_for_function(
        "n => document.querySelector('#review-last').textContent === `Undone: ${n} is back in the queue.`",
        arg=name,
    )


def color(watched: Watched, selector: str) -> str:
    return watched.page.eval_on_selector(selector, "n => getComputedStyle(n).color")


def test_arrow_down_on_a_closed_move_list_moves_nothing(console_stack: Stack, open_console):
    training = console_stack.container("TRAINING_CONTAINER")
    name = f"apple/arrow-{uuid.uuid4().hex[:6]}.jpg"
    training.upload_blob(name, photos(console_stack, 1)[0])
    watched = open_console("training")
    page = watched.page
    select = page.locator(f"li.card[data-name='{name}'] select")
    select.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(700)  # time for a move, had one been started
    assert training.get_blob_client(name).exists()
    assert page.evaluate("document.activeElement.tagName") == "SELECT"
    assert page.locator(f"li.card[data-name='{name}']").count() == 1
    audit(page, "the training set after arrows on a move list")
    training.delete_blob(name)
    assert not watched.errors, watched.errors


def test_an_error_result_cannot_be_added_to_training(console_stack: Stack, open_console):
    broken = f"broken-{uuid.uuid4().hex[:6]}.jpg"
    upload_and_wait(console_stack, {broken: b"this is no photo"})
    watched = open_console("results")
    page = watched.page
    page.wait_for_selector(f".tile[data-name='{broken}']")
    page.click(f".tile[data-name='{broken}']")
    page.wait_for_selector("#result-detail h2")
    assert page.locator("#result-detail select, #label-add").count() == 0
    assert "nothing to add to training" in page.inner_text("#result-detail")
    assert "NotAnImage" in page.inner_text("#result-error")
    audit(page, "an error result in the drawer")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "390x844"])
def test_the_review_decision_and_its_bars_are_above_the_fold(console_stack: Stack, open_console, viewport):
    seed_review(console_stack, 1)
    watched = open_console("review", viewport=viewport)
    page = watched.page
    page.wait_for_selector("#review-current .bar")
    bottoms = page.evaluate(
        "() => [...document.querySelectorAll("
        "'#review-current .review-actions button, #review-current .bars')]"
        ".map(n => n.getBoundingClientRect().bottom)"
    )
    assert len(bottoms) >= 6 and max(bottoms) <= viewport[1], (bottoms, viewport)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    audit(page, f"the review queue at {viewport}")


def test_a_review_decision_fetches_at_most_one_preview(console_stack: Stack, open_console):
    names = seed_review(console_stack, 3)
    watched = open_console("review")
    page = watched.page
    thumbs: list[str] = []
    page.on("request", lambda r: thumbs.append(r.url) if "/console-api/thumb" in r.url else None)
    review = console_stack.container("REVIEW_CONTAINER")
    for name in names:
        select_in_review(watched, name)
        page.wait_for_load_state("networkidle")
        before = len(thumbs)
        page.keyboard.press("x")
        page.wait_for_function(
            "n => document.querySelector('#review-last').textContent.startsWith(n)", arg=name
        )
        page.wait_for_load_state("networkidle")
        assert len(thumbs) - before <= 1, thumbs[before:]
        assert not review.get_blob_client(name).exists()
    for name in reversed(names):  # put them back for the other tests' sake
        undo_once(watched, name)
    assert all(review.get_blob_client(name).exists() for name in names)


def test_undo_goes_back_several_decisions_with_a_button(console_stack: Stack, open_console):
    names = seed_review(console_stack, 3)
    watched = open_console("review", viewport=PHONE)
    page = watched.page
    review = console_stack.container("REVIEW_CONTAINER")
    for name in names:
        select_in_review(watched, name)
        page.click("#review-current button:text-is('x discard')")  # a tap, as on a phone
        page.wait_for_function(
            "n => document.querySelector('#review-last').textContent.startsWith(n)", arg=name
        )
    assert not any(review.get_blob_client(name).exists() for name in names)
    assert page.inner_text("#review-undo") == "Undo (3)"
    for expected in reversed(names):
        undo_once(watched, expected)
        assert review.get_blob_client(expected).exists()
    assert page.is_disabled("#review-undo")
    assert page.get_attribute("#review-last", "role") == "status"  # announced to screen readers
    audit(page, "the review queue after three undos on a phone")


def test_the_runs_page_fits_a_phone(console_stack: Stack, open_console):
    watched = open_console("runs", viewport=PHONE)
    page = watched.page
    page.wait_for_selector("#iterations")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    audit(page, "the runs page on a phone")


def test_success_is_not_said_in_the_error_colour(console_stack: Stack, open_console):
    first, second = seed_review(console_stack, 2)
    watched = open_console("review")
    page = watched.page
    select_in_review(watched, first)
    page.keyboard.press("x")
    page.wait_for_function("n => document.querySelector('#review-last').textContent.startsWith(n)", arg=first)
    assert color(watched, "#review-last") != ERROR_RGB
    select_in_review(watched, second)
    console_stack.container("REVIEW_CONTAINER").delete_blob(second)  # gone meanwhile: the decision fails
    page.keyboard.press("x")
    page.wait_for_function(
        "n => document.querySelector('#review-last').textContent.includes('review/' + n)", arg=second
    )
    assert color(watched, "#review-last") == ERROR_RGB
    undo_once(watched, first)


def folder_count(watched: Watched, tag: str) -> int:
    return int(watched.page.inner_text(f"section[data-tag='{tag}'] .count").strip("()"))


def test_folder_counts_follow_a_delete_and_an_armed_delete_disarms(console_stack: Stack, open_console):
    training = console_stack.container("TRAINING_CONTAINER")
    tag = uuid.uuid4().hex[:6]
    names = [f"banana/{tag}-{i}.jpg" for i in range(2)]
    for name, data in zip(names, photos(console_stack, 2), strict=True):
        training.upload_blob(name, data)
    watched = open_console("training")
    page = watched.page
    page.wait_for_selector(f"li.card[data-name='{names[0]}']")
    before = folder_count(watched, "banana")
    delete = page.locator(f"li.card[data-name='{names[0]}'] button.danger")
    delete.click()
    assert delete.inner_text() == "Delete for good?"
    page.keyboard.press("Tab")  # focus leaves: the question is withdrawn
    assert delete.inner_text() == "Delete"
    delete.click()
    page.wait_for_function(
        "n => document.querySelector(`li.card[data-name='${n}'] button.danger`).textContent === 'Delete'",
        arg=names[0],
        timeout=6000,
    )  # ... or after a few seconds
    assert training.get_blob_client(names[0]).exists()
    delete.click()
    delete.click()
    wait_until(lambda: not training.get_blob_client(names[0]).exists(), 30, "the deleted blob gone")
    page.wait_for_selector(f"li.card[data-name='{names[0]}']", state="detached")
    assert folder_count(watched, "banana") == before - 1
    page.wait_for_function(
        "() => document.querySelector('#status').textContent.startsWith('Deleted 1 image')"
    )
    assert color(watched, "#status") != ERROR_RGB
    audit(page, "the training set after a delete")
    training.delete_blob(names[1])


def test_the_result_drawer_closes_with_escape_and_gives_focus_back(console_stack: Stack, open_console):
    name = f"drawer-{uuid.uuid4().hex[:6]}.jpg"
    upload_and_wait(console_stack, {name: photos(console_stack, 1)[0]})
    watched = open_console("results")
    page = watched.page
    tile = page.locator(f".tile[data-name='{name}']")
    tile.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#result-detail h2")
    assert page.evaluate("document.querySelector('#result-detail').contains(document.activeElement)")
    assert page.locator("#result-detail .bar").count() >= 3  # probability bars, the JSON behind a toggle
    assert not page.is_visible("#result-detail pre")
    assert "Answered by" in page.inner_text("#result-answered")
    audit(page, "a result in the drawer")
    page.keyboard.press("Escape")
    page.wait_for_selector("#result-detail", state="hidden")
    assert page.evaluate("document.activeElement.dataset.name") == name


def test_a_long_error_is_shown_in_full(console_stack: Stack, open_console):
    results = console_stack.container("RESULTS_CONTAINER")
    name = f"long-error-{uuid.uuid4().hex[:6]}.jpg"
    message = "The image is larger than the pipeline accepts " + "(and this goes on) " * 30 + "END-OF-MESSAGE"
    document = {"schemaVersion": 1, "status": "error", "error": {"code": "ImageTooLarge", "message": message}}
    results.upload_blob(f"{name}.json", json.dumps(document).encode())
    watched = open_console("results")
    page = watched.page
    page.click(f".tile[data-name='{name}']")
    page.wait_for_selector("#result-error")
    assert page.inner_text("#result-error").endswith("END-OF-MESSAGE")
    assert page.evaluate(
        "() => { const n = document.querySelector('#result-error');"
        " const d = document.querySelector('#result-detail');"
        " return n.scrollWidth <= n.clientWidth"
        " && n.getBoundingClientRect().right <= d.getBoundingClientRect().right; }"
    )
    results.delete_blob(f"{name}.json")


def test_a_gate_refusal_is_said_once(console_stack: Stack, open_console):
    settings = types.SimpleNamespace(
        gate_tolerance=0.02, gate_min_precision=0.5, gate_min_recall=0.5, gate_min_ap=0.5
    )
    gate = decide(Metrics(0.5, 0.8, 0.81, 0.82), Metrics(0.5, 0.95, 0.96, 0.97), settings)  # type: ignore[arg-type]
    assert len(gate.reasons) == 3 and all("GATE_TOLERANCE" in r for r in gate.reasons)
    record = new_record(new_run_id(), Trigger.HTTP)
    record.status = Status.REJECTED
    record.gate = gate
    record.reason = f"Gate refused the iteration: {'; '.join(gate.reasons)}; the published one stays"
    RunStore(console_stack.container("PIPELINE_CONTAINER"), 30).save(Run(record, None))
    watched = open_console("runs")
    page = watched.page
    row = page.locator(f"tr[data-run-id='{record.run_id}']")
    row.wait_for()
    text = row.inner_text()
    assert text.count("0.020") == 1, text
    for value in ("0.800", "0.810", "0.820"):
        assert text.count(value) == 1, text
    assert "Gate refused the iteration" not in text
    audit(page, "the runs page with a refused run")


def test_the_chart_keeps_equal_values_apart(console_stack: Stack, open_console):
    watched = open_console("runs")
    page = watched.page
    page.wait_for_selector("#metrics-chart circle")
    points: list[dict[str, Any]] = page.eval_on_selector_all(
        "#metrics-chart circle",
        "ns => ns.map(n => ({it: n.dataset.iteration, x: n.getAttribute('cx'), y: n.getAttribute('cy'),"
        " title: n.textContent}))",
    )
    values: dict[str, list[str]] = {}
    for point in points:
        values.setdefault(point["it"], []).append(re.sub(r".* ", "", point["title"]))
    assert any(len(set(v)) < len(v) for v in values.values()), values  # the fruit model: equal metrics
    for iteration in values:
        spots = [(p["x"], p["y"]) for p in points if p["it"] == iteration]
        assert len(set(spots)) == len(spots), spots


def test_the_same_photo_labelled_twice_is_named(console_stack: Stack, open_console):
    prefix = f"twice-{uuid.uuid4().hex[:6]}"
    photo = photos(console_stack, 3)[2]
    names = [f"{prefix}/{prefix}-a.jpg", f"{prefix}/{prefix}-b.jpg"]
    upload_and_wait(console_stack, dict.fromkeys(names, photo))
    watched = open_console("review")
    page = watched.page
    for name in names:
        select_in_review(watched, name)
        page.keyboard.press("3")  # orange
        page.wait_for_function(
            "n => document.querySelector('#review-last').textContent.startsWith(n)", arg=name
        )
    page.goto(page.url.split("#")[0] + "#training")
    page.wait_for_selector("#training-duplicates li")
    groups = [set(text.split(" = ")) for text in texts(watched, "#training-duplicates li")]
    assert any({f"orange/{prefix}-a.jpg", f"orange/{prefix}-b.jpg"} <= group for group in groups), groups
    audit(page, "the training set naming a duplicate")
    training = console_stack.container("TRAINING_CONTAINER")
    for name in names:
        training.delete_blob(f"orange/{name.rsplit('/', 1)[1]}")
