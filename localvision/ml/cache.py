"""Where the feature extractor's ONNX file lives, and building it there when it is missing.

The file name carries a fingerprint of the builder's source and of the weights file, so a changed
builder or new weights produce a new file instead of reusing a stale one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

from localvision.ml import graph, weights

MODEL_DIR_ENV = "LOCALVISION_MODEL_DIR"
_FILE_PREFIX = "efficientnet-lite0-features-"
_build_lock = threading.Lock()


def model_dir(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, else ``$LOCALVISION_MODEL_DIR``, else ``~/.cache/localvision``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else Path.home() / ".cache" / "localvision"


def fingerprint() -> str:
    """Hash of the builder's source code and the weights file's bytes."""
    digest = hashlib.sha256()
    for module in (graph, weights):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(weights.weights_path().read_bytes())
    return digest.hexdigest()[:16]


def model_path(cache_dir: Path | None = None) -> Path:
    return model_dir(cache_dir) / f"{_FILE_PREFIX}{fingerprint()}.onnx"


def ensure_model(cache_dir: Path | None = None) -> Path:
    """The ONNX file's path, building it first if it is missing (from the installed weights, no network)."""
    path = model_path(cache_dir)
    with _build_lock:
        if path.is_file():
            return path
        model = graph.build_graph(weights.load_state_dict(weights.weights_path()))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target, then rename: another process never sees a half-written file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".building-", suffix=".onnx")
        except OSError as exc:
            raise OSError(
                f"cannot write the model file into {path.parent} ({exc.strerror}): set {MODEL_DIR_ENV} "
                "to a writable folder, or run `python -m localvision.ml.build` as a user who can"
            ) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(model.SerializeToString())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for stale in path.parent.glob(f"{_FILE_PREFIX}*.onnx"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return path
