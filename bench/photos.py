"""The fruit photos, read by path (``$DEMO_IMAGES``, default ../shared/data/fruit), and distinct copies."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import PROJECT_ROOT

DEFAULT_FRUIT = PROJECT_ROOT.parent / "shared" / "data" / "fruit"


def fruit_root() -> Path:
    root = Path(os.environ.get("DEMO_IMAGES", DEFAULT_FRUIT))
    if not (root / "training-images").is_dir():
        raise SystemExit(
            f"fruit photos not found at {root}: set DEMO_IMAGES to a folder with training-images/, "
            "more-training-images/ and test-images/ (Microsoft Learn's fruit exercise)"
        )
    return root


@dataclass(frozen=True)
class Photo:
    name: str
    tag: str | None
    data: bytes


def labelled(folder: Path) -> list[Photo]:
    """``folder/{tag}/*.jpg`` as photos named ``{tag}/{file}``."""
    return [
        Photo(f"{path.parent.name}/{path.name}", path.parent.name, path.read_bytes())
        for path in sorted(folder.glob("*/*.jpg"))
    ]


def training(root: Path) -> list[Photo]:
    return labelled(root / "training-images")


def more_training(root: Path) -> list[Photo]:
    return labelled(root / "more-training-images")


def test_photos(root: Path) -> list[Photo]:
    return [
        Photo(path.name, None, path.read_bytes()) for path in sorted((root / "test-images").glob("*.jpg"))
    ]


def variant(photo: Photo, index: int) -> bytes:
    """The photo with a JPEG comment segment (COM) naming copy ``index`` right after the start marker:
    the same pixels, distinct bytes, so every copy is a distinct blob, ETag and upload."""
    if not photo.data.startswith(b"\xff\xd8"):
        raise ValueError(f"{photo.name} is not a JPEG")
    text = f"bench copy {index}".encode()
    segment = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return photo.data[:2] + segment + photo.data[2:]


def copies(photos: list[Photo], count: int, prefix: str) -> list[Photo]:
    """``count`` distinct photos cycling through ``photos``, named ``[{tag}/]{prefix}{i:05d}-{file}``."""
    out = []
    for index in range(count):
        photo = photos[index % len(photos)]
        file = photo.name.rsplit("/", 1)[-1]
        name = f"{prefix}{index:05d}-{file}"
        out.append(Photo(f"{photo.tag}/{name}" if photo.tag else name, photo.tag, variant(photo, index)))
    return out
