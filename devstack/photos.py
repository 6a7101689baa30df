"""The fruit photos of Microsoft Learn's exercise, read by path (``$DEMO_IMAGES``, default the project's
own copy in samples/fruit), and distinct copies of them."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from devstack.paths import PROJECT_ROOT

DEFAULT_FRUIT = PROJECT_ROOT / "samples" / "fruit"
TAGS = ("apple", "banana", "orange")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
TEST_TAGS = {"IMG_TEST_1.jpg": "apple", "IMG_TEST_2.jpg": "banana", "IMG_TEST_3.jpg": "orange"}


class PhotosMissing(RuntimeError):
    """The fruit photos are not where ``DEMO_IMAGES`` points; the message says how to get them."""


def fruit_root() -> Path:
    """Where the photos should be: $DEMO_IMAGES, default samples/fruit."""
    return Path(os.environ.get("DEMO_IMAGES") or DEFAULT_FRUIT)


def images(folder: Path, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (and below it with ``recursive``), sorted."""
    if not folder.is_dir():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def missing_reason(root: Path | None = None) -> str | None:
    """None when the photos are complete at ``root`` (default ``fruit_root()``), else why and what to do."""
    root = root or fruit_root()
    missing = [f"training-images/{t}" for t in TAGS if not images(root / "training-images" / t)]
    missing += [d for d in ("more-training-images", "test-images") if not images(root / d, recursive=True)]
    if not missing:
        return None
    return (
        f"the fruit photos were not found at {root} (missing: {', '.join(missing)}).\n"
        "They are the photos of the Microsoft Learn exercise 'Classify images with Custom Vision' "
        "(github.com/MicrosoftLearning/mslearn-ai-vision, folder Labfiles/image-classification): put "
        "training-images/{apple,banana,orange}/, more-training-images/{apple,banana,orange}/ and "
        "test-images/ in one folder and run `DEMO_IMAGES=/path/to/folder make demo`."
    )


def require() -> Path:
    """The photos' folder; PhotosMissing when they are not all there."""
    reason = missing_reason()
    if reason:
        raise PhotosMissing(reason)
    return fruit_root()


@dataclass(frozen=True)
class Photo:
    name: str  # the blob name: {tag}/{file} for a labelled photo, {file} otherwise
    tag: str | None
    data: bytes

    @property
    def file(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def labelled(folder: Path) -> list[Photo]:
    """``folder/{tag}/*`` as photos named ``{tag}/{file}``."""
    return [
        Photo(f"{path.parent.name}/{path.name}", path.parent.name, path.read_bytes())
        for tag in TAGS
        for path in images(folder / tag)
    ]


def training(root: Path) -> list[Photo]:
    return labelled(root / "training-images")


def more_training(root: Path) -> list[Photo]:
    return labelled(root / "more-training-images")


def test_photos(root: Path) -> list[Photo]:
    return [Photo(path.name, None, path.read_bytes()) for path in images(root / "test-images")]


def variant(photo: Photo, index: int) -> bytes:
    """The photo with a JPEG comment segment (COM) naming copy ``index`` right after the start marker:
    the same pixels, distinct bytes, so every copy is a distinct blob, ETag and upload."""
    if not photo.data.startswith(b"\xff\xd8"):
        raise ValueError(f"{photo.name} is not a JPEG")
    text = f"copy {index}".encode()
    segment = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return photo.data[:2] + segment + photo.data[2:]


def copies(photos: list[Photo], count: int, prefix: str) -> list[Photo]:
    """``count`` distinct photos cycling through ``photos``, named ``[{tag}/]{prefix}{i:05d}-{file}``."""
    out = []
    for index in range(count):
        photo = photos[index % len(photos)]
        name = f"{prefix}{index:05d}-{photo.file}"
        out.append(Photo(f"{photo.tag}/{name}" if photo.tag else name, photo.tag, variant(photo, index)))
    return out
