"""The state in the data folder (``--store files``, the default), laid out as ``localvision.persistence``
describes; every file is written atomically (temp file + rename)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localvision.persistence import atomic_write
from localvision.signing import load_or_create_secret


class FileStore:
    """One JSON document per project, image blobs by hash, one folder per iteration.

    One server owns its data folder, and its registry's lock orders the writes: no document is stale here.
    """

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

    def reload_project(self, project_id: str) -> dict[str, Any] | None:
        path = self.project_dir(project_id) / "project.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

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

    def save_iteration(self, project_id: str, iteration_id: str) -> None:
        """Training wrote the files in place: nothing more to keep."""

    def delete_iteration(self, project_id: str, iteration_id: str) -> None:
        shutil.rmtree(self.iteration_dir(project_id, iteration_id), ignore_errors=True)

    def put_export(self, project_id: str, iteration_id: str, file_name: str, data: bytes) -> None:
        atomic_write(self.export_path(project_id, iteration_id, file_name), data)

    def read_export(self, project_id: str, iteration_id: str, file_name: str) -> bytes:
        return self.export_path(project_id, iteration_id, file_name).read_bytes()

    def delete_export(self, project_id: str, iteration_id: str, file_name: str) -> None:
        self.export_path(project_id, iteration_id, file_name).unlink(missing_ok=True)

    def signing_secret(self) -> bytes:
        return load_or_create_secret(self.root)
