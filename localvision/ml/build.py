"""Build the feature extractor's ONNX file into the cache folder: ``python -m localvision.ml.build``.

``make install`` runs this; the featurizer also builds the file on first use if it is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from localvision.ml.cache import MODEL_DIR_ENV, ensure_model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build localvision's EfficientNet-Lite0 feature extractor.")
    parser.add_argument("--cache-dir", type=Path, help=f"default: ${MODEL_DIR_ENV} or ~/.cache/localvision")
    args = parser.parse_args(argv)
    print(ensure_model(args.cache_dir))


if __name__ == "__main__":
    main()
