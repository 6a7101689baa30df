"""``make demo``: the photos check, and the whole exercise on the real local stack (slow)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.paths import PROJECT_ROOT
from devstack.processes import answers_tcp

STACK_PORTS = (10000, 10001, 10002, 5100, 7071)


def _demo(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "demo"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_without_the_photos_the_demo_says_how_to_get_them(tmp_path):
    result = _demo(DEMO_IMAGES=str(tmp_path / "nothing-here"))
    assert result.returncode == 1
    assert "DEMO_IMAGES=/path/to/folder make demo" in result.stderr
    assert "Classify images with Custom Vision" in result.stderr


@pytest.mark.slow
def test_the_demo_trains_classifies_and_retrains_and_can_run_again(fruit_dir, tmp_path):
    busy = [port for port in STACK_PORTS if answers_tcp(port)]
    if busy:
        pytest.skip(f"ports {busy} are in use (a local stack runs?): the demo needs them free")
    state = {"LOCAL_STACK_DIR": str(tmp_path / "stack"), "DEMO_IMAGES": str(fruit_dir)}
    try:
        first = _demo(**state)
        assert first.returncode == 0, first.stdout + first.stderr
        for line in ("IMG_TEST_1.jpg: apple", "IMG_TEST_2.jpg: banana", "IMG_TEST_3.jpg: orange"):
            assert line in first.stdout
        assert "precision" in first.stdout and "AP" in first.stdout
        second = _demo(**state)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "already running" in second.stdout
        assert "IMG_TEST_1.jpg: apple" in second.stdout
    finally:
        subprocess.run(
            [sys.executable, "-m", "devstack", "down"], cwd=PROJECT_ROOT, env={**os.environ, **state}
        )
    # A fresh stack: the first run uploads the 45 photos, then exactly the six new ones.
    assert "uploaded 45 photos" in first.stdout
    assert "run succeeded: 6 images uploaded to Custom Vision, 45 unchanged" in first.stdout
    assert "No new, changed, moved or deleted training images" in second.stdout
    assert "Console: http://localhost:7071/api/console/" in first.stdout
