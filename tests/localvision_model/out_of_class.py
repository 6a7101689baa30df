"""The out-of-class photos (samples/out-of-class): nothing in them is an apple, a banana or an orange,
though the blends mix two fruit photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.paths import PROJECT_ROOT

OUT_OF_CLASS = PROJECT_ROOT / "samples" / "out-of-class"
MIN_PHOTOS = 30


def out_of_class_paths() -> list[Path]:
    """Every JPEG of the set; a missing set is a broken checkout, so it fails instead of skipping."""
    paths = sorted(OUT_OF_CLASS.glob("*.jpg"))
    if len(paths) < MIN_PHOTOS:
        pytest.fail(f"{OUT_OF_CLASS} holds {len(paths)} photos, not the {MIN_PHOTOS}+ the project ships")
    return paths
