"""Rebuild this folder's photos: ``python samples/out-of-class/make.py [SKIMAGE_DATA_DIR]``.

The generated images (flat colours, patterns, noise, blends of two fruit photos) are made here from a
fixed seed; the photos come from scikit-image's ``skimage/data`` folder (CC0 or public domain, see
README.md), when its path is given (e.g. a scikit-image wheel unpacked: ``pip download scikit-image
--no-deps`` and unzip it). Every image is written as a JPEG of at most 320 px on its longer side.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
FRUIT = HERE.parent / "fruit" / "training-images"
SIDE = 320
SKIMAGE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "grass.png", "gravel.png", "horse.png", "hubble_deep_field.jpg",
    "microaneurysms.png", "retina.jpg", "rocket.jpg", "text.png",
)  # fmt: skip
FLAT = {
    "blue-wall": (70, 110, 190), "white": (250, 250, 250), "black": (8, 8, 8), "grey": (128, 128, 128),
    "red": (200, 30, 30), "green": (40, 160, 60), "yellow": (235, 210, 40), "orange-colour": (240, 140, 30),
}  # fmt: skip
BLENDS = (
    ("apple/IMG_20200229_164759.jpg", "banana/IMG_20200229_164952.jpg"),
    ("apple/IMG_20200229_164804.jpg", "orange/IMG_20200229_165112.jpg"),
    ("banana/IMG_20200229_164957.jpg", "orange/IMG_20200229_165115.jpg"),
)


def save(image: Image.Image, name: str) -> None:
    image = image.convert("RGB")
    image.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
    image.save(HERE / f"{name}.jpg", quality=85)


def generated(rng: np.random.Generator) -> None:
    for name, colour in FLAT.items():
        save(Image.new("RGB", (SIDE, 240), colour), f"flat-{name}")
    save(Image.fromarray(rng.integers(0, 256, (240, SIDE, 3), dtype=np.uint8)), "noise-colour")
    grey = rng.integers(0, 256, (240, SIDE, 1), dtype=np.uint8).repeat(3, axis=2)
    save(Image.fromarray(grey), "noise-grey")
    smooth = Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).resize((SIDE, 240))
    save(smooth.filter(ImageFilter.GaussianBlur(4)), "noise-smooth")
    y, x = np.mgrid[0:240, 0:SIDE]
    stripes = ((x // 20) % 2 * 255).astype(np.uint8)
    save(Image.fromarray(np.dstack([stripes, stripes, stripes])), "stripes")
    checks = (((x // 40) + (y // 40)) % 2 * 200 + 30).astype(np.uint8)
    save(Image.fromarray(np.dstack([checks, checks // 2, 255 - checks])), "checks")
    gradient = np.dstack([x * 255 // SIDE, y * 255 // 240, 255 - x * 255 // SIDE]).astype(np.uint8)
    save(Image.fromarray(gradient), "gradient")
    desk = Image.new("RGB", (SIDE, 240), (150, 110, 70))
    draw = ImageDraw.Draw(desk)
    for _ in range(12):  # papers, a keyboard, a phone: rectangles on a desk
        left, top = int(rng.integers(0, SIDE - 60)), int(rng.integers(0, 240 - 40))
        box = (left, top, left + int(rng.integers(30, 120)), top + int(rng.integers(20, 90)))
        draw.rectangle(box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)), outline=(0, 0, 0))
    save(desk, "desk-rectangles")
    circles = Image.new("RGB", (SIDE, 240), (30, 30, 60))
    draw = ImageDraw.Draw(circles)
    for _ in range(25):
        cx, cy, r = int(rng.integers(0, SIDE)), int(rng.integers(0, 240)), int(rng.integers(5, 40))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    save(circles, "circles")
    for first, second in BLENDS:
        a = Image.open(FRUIT / first).convert("RGB").resize((SIDE, 240))
        b = Image.open(FRUIT / second).convert("RGB").resize((SIDE, 240))
        save(Image.blend(a, b, 0.5), f"blend-{Path(first).parent.name}-{Path(second).parent.name}")


def photos(data: Path) -> None:
    for name in SKIMAGE_PHOTOS:
        save(Image.open(data / name), f"photo-{Path(name).stem.replace('_', '-')}")


if __name__ == "__main__":
    generated(np.random.default_rng(21))
    if len(sys.argv) > 1:
        photos(Path(sys.argv[1]))
