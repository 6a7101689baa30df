"""Files under the data folder, written atomically (temp file + rename), so a crash never leaves half a file.

Layout::

    DIR/projects/{projectId}/project.json               project, tags, images, iterations (one document)
    DIR/projects/{projectId}/images/{sha256}             uploaded image bytes, by content hash
    DIR/projects/{projectId}/renditions/{sha256}-{kind}  resized copies and thumbnails, made on first download
    DIR/projects/{projectId}/iterations/{iterationId}/   model.npz, evaluation.npz (out-of-fold results)
    DIR/projects/{projectId}/iterations/{iterationId}/exports/{platform}[-{flavor}].zip   exported models
    DIR/signing.key                                      the secret of the signed download links
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """The data folder: one JSON document per project, image blobs by hash, one folder per iteration."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.projects_dir = root / "projects"
        self.projects_dir.mkdir(parents=True, exist_ok=True)

    def project_dir(self, project_id: str) -> Path:
        return self.projects_dir / project_id

    def iteration_dir(self, project_id: str, iteration_id: str) -> Path:
        return self.project_dir(project_id) / "iterations" / iteration_id

    def export_path(self, project_id: str, iteration_id: str, file_name: str) -> Path:
        return self.iteration_dir(project_id, iteration_id) / "exports" / file_name

    def image_path(self, project_id: str, sha256: str) -> Path:
        return self.project_dir(project_id) / "images" / sha256

    def load_projects(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self.projects_dir.glob("*/project.json")):
            yield json.loads(path.read_text(encoding="utf-8"))

    def save_project(self, project_id: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, separators=(",", ":")).encode()
        atomic_write(self.project_dir(project_id) / "project.json", data)

    def delete_project(self, project_id: str) -> None:
        shutil.rmtree(self.project_dir(project_id), ignore_errors=True)

    def put_image(self, project_id: str, sha256: str, data: bytes) -> None:
        path = self.image_path(project_id, sha256)
        if not path.exists():
            atomic_write(path, data)

    def read_image(self, project_id: str, sha256: str) -> bytes:
        return self.image_path(project_id, sha256).read_bytes()

    def delete_image(self, project_id: str, sha256: str) -> None:
        self.image_path(project_id, sha256).unlink(missing_ok=True)
        for rendition in (self.project_dir(project_id) / "renditions").glob(f"{sha256}-*"):
            rendition.unlink(missing_ok=True)

    def rendition_path(self, project_id: str, sha256: str, kind: str) -> Path:
        return self.project_dir(project_id) / "renditions" / f"{sha256}-{kind}"

    def put_rendition(self, project_id: str, sha256: str, kind: str, data: bytes) -> None:
        if self.project_dir(project_id).is_dir():  # not for a project deleted meanwhile
            atomic_write(self.rendition_path(project_id, sha256, kind), data)

    def delete_iteration(self, project_id: str, iteration_id: str) -> None:
        shutil.rmtree(self.iteration_dir(project_id, iteration_id), ignore_errors=True)
