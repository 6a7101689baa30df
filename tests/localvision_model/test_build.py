"""Building the ONNX file into the cache: named by fingerprint, built once, stale versions removed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from devstack.paths import PROJECT_ROOT
from localvision.ml.cache import MODEL_DIR_ENV, ensure_model, fingerprint, model_dir


def test_builds_once_under_a_fingerprinted_name(tmp_path: Path) -> None:
    stale = tmp_path / "efficientnet-lite0-features-0000000000000000.onnx"
    stale.write_bytes(b"old builder output")
    path = ensure_model(tmp_path)
    assert path.name == f"efficientnet-lite0-features-{fingerprint()}.onnx"
    assert not stale.exists()
    model = onnx.load(path)
    assert [o.name for o in model.graph.output] == ["features"]
    built_at = path.stat().st_mtime_ns
    assert ensure_model(tmp_path) == path
    assert path.stat().st_mtime_ns == built_at
    assert not list(tmp_path.glob(".building-*"))


def test_cache_dir_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "from-env"))
    assert model_dir() == tmp_path / "from-env"
    assert model_dir(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv(MODEL_DIR_ENV)
    assert model_dir() == Path.home() / ".cache" / "localvision"


def test_command_line_builds_into_the_given_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "localvision.ml.build", "--cache-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    built = Path(done.stdout.strip())
    assert built.parent == tmp_path and built.is_file()


def test_unwritable_cache_dir_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=MODEL_DIR_ENV):
        ensure_model(blocker / "cache")
