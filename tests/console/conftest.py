"""The console's tests: one local stack (Azurite + localvision with the fruit model + devhost on the real
function_app.py) for the package, and headless Chromium from Debian's package driven by Playwright.

Every image classified on this stack is copied to review/ (REVIEW_THRESHOLD=1), so the review queue has
work for the keystroke tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import load_app  # noqa: F401  (the fixture, for the trigger metadata test)
from tests.robustness.conftest import Stack, start_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONSOLE_SETTINGS = {"REVIEW_THRESHOLD": "1"}
DESKTOP = (1280, 800)
PHONE = (390, 844)


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("console-stack"), settings=CONSOLE_SETTINGS)
    yield stack
    stack.stack.stop()


@pytest.fixture(scope="session")
def console_url(console_stack: Stack) -> str:
    return f"{console_stack.stack.devhost_url}/api/console/"


@pytest.fixture(scope="session")
def function_key(console_stack: Stack) -> str:
    return console_stack.stack.values["DEVHOST_FUNCTION_KEY"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium, "
            "as root) to run the console's browser tests"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page and what it did that it must not: dialogs (alert, confirm...), script errors, console errors."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        # An HTTP error status (a 401 for a wrong key, a 404 preview of a deleted image) is not a script
        # error; anything else logged as an error is (including a CSP refusal of injected script).
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console error: {message.text}")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save a screenshot of each page ($CONSOLE_SCREENSHOTS, else a temporary folder)."""
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def open_console(browser: Any, console_url: str, function_key: str) -> Iterator[Callable[..., Watched]]:
    """A fresh browser context on the console, with the key entered unless ``key=None``."""
    contexts = []

    def open_(
        page: str = "results", key: str | None = function_key, viewport: tuple[int, int] = (1280, 900)
    ) -> Watched:
        width, height = viewport
        context = browser.new_context(viewport={"width": width, "height": height}, has_touch=width < 600)
        contexts.append(context)
        watched = Watched(context.new_page())
        watched.page.goto(f"{console_url}#{page}")
        if key is not None:
            watched.page.fill("#key-input", key)
            watched.page.click("#key-form button")
            watched.page.wait_for_selector("#key-panel", state="hidden")
        return watched

    yield open_
    for context in contexts:
        context.close()
