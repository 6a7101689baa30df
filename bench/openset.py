"""``python -m bench.openset``: does the fruit model know what it does not know? (about 20 s, no stack)

Trains the Quick fruit model (45 photos) as Multiclass and as Multilabel, then scores the 9 held-out
fruit photos (3 test + 6 "more training") and the out-of-class set in samples/out-of-class at the
pipeline's default REVIEW_THRESHOLD. Bars: at least 90 % of the out-of-class photos go to review, every
fruit photo stays above the threshold with the right tag. Prints a table and exits 1 when a bar fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

from devstack.paths import PROJECT_ROOT
from devstack.photos import TAGS, TEST_TAGS, fruit_root, images
from localvision.ml import Featurizer, prepare_image
from localvision.ml.evaluation import Evaluation, evaluate

OUT_OF_CLASS = PROJECT_ROOT / "samples" / "out-of-class"
MIN_UNKNOWN_SHARE = 0.9


def fruit(folder: Path):
    pairs = [(path, index) for index, tag in enumerate(TAGS) for path in images(folder / tag)]
    return [prepare_image(p.read_bytes()) for p, _ in pairs], [i for _, i in pairs]


def held_out_photos(root: Path):
    more_images, more_tags = fruit(root / "more-training-images")
    tests = root / "test-images"
    test_images = [prepare_image((tests / name).read_bytes()) for name in TEST_TAGS]
    return more_images + test_images, more_tags + [TAGS.index(tag) for tag in TEST_TAGS.values()]


def unknown_photos() -> dict[str, object]:
    return {path.stem: prepare_image(path.read_bytes()) for path in images(OUT_OF_CLASS)}


def report(result: Evaluation) -> bool:
    kind = "Multilabel" if result.multilabel else "Multiclass"
    unknown_ok = result.unknown_share >= MIN_UNKNOWN_SHARE
    known_ok = result.known_kept == result.known_total
    rows = [
        (f"out-of-class below {result.threshold}", f"{result.unknown_reviewed}/{result.unknown_total} "
         f"= {result.unknown_share:.0%} (>= {MIN_UNKNOWN_SHARE:.0%}), "
         f"highest {max(result.unknown_top.values()):.3f}",
         unknown_ok),
        (f"fruit at or above {result.threshold}, right tag", f"{result.known_kept}/{result.known_total} "
         f"= {result.known_share:.0%} (= 100 %), lowest {result.lowest_known:.3f}", known_ok),
        ("ECE out-of-fold (before calibration)", f"{result.ece:.4f} ({result.ece_uncalibrated:.4f}), "
         f"T = {result.temperature:.3f}", None),
    ]  # fmt: skip
    print(f"\n{kind}")
    for label, value, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {label:42s} {value:60s} {verdict}")
    if result.escaped:
        escaped = ", ".join(f"{name} {result.unknown_top[name]:.3f}" for name in result.escaped)
        print(f"  {'not sent to review':42s} {escaped}")
    return unknown_ok and known_ok


def main() -> int:
    featurizer = Featurizer.load()
    root = fruit_root()
    training_images, training_tags = fruit(root / "training-images")
    labels = [[tag] for tag in training_tags]
    held_out, unknown = held_out_photos(root), unknown_photos()
    ok = True
    for multilabel in (False, True):
        result = evaluate(
            featurizer, (training_images, labels), held_out, unknown, len(TAGS), multilabel=multilabel
        )
        ok = report(result) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
