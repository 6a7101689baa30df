"""Where the state is kept: one interface (``Store``), two implementations.

``localvision.filestore.FileStore`` keeps everything in the data folder (the default);
``localvision.blobstore.BlobStore`` keeps it in a blob container and uses the data folder as a cache that
can be lost at any time. Both lay the state out the same way (paths relative to the folder or container)::

    projects/{projectId}/project.json               project, tags, images, iterations (one document)
    projects/{projectId}/images/{sha256}             uploaded image bytes, by content hash
    projects/{projectId}/iterations/{iterationId}/   model.npz, evaluation.npz (out-of-fold results)
    projects/{projectId}/iterations/{iterationId}/exports/{platform}[-{flavor}].zip   exported models
    signing.key                                      the secret of the signed download links

Renditions (resized copies, thumbnails) are made on first download and kept in the data folder only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol


class StaleProject(Exception):
    """The stored project document changed since this server read it (another writer): reload, retry."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and a rename, so a crash never leaves half a file."""
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


class Store(Protocol):
    """The state of one server. Project documents are written whole and in order: ``save_project``
    raises ``StaleProject`` when another writer saved the project since this store read or wrote it."""

    root: Path  # the data folder (the blob store's cache)

    def load_projects(self) -> Iterator[dict[str, Any]]: ...

    def reload_project(self, project_id: str) -> dict[str, Any] | None:
        """The stored document as it is now (None: deleted), remembered as the one read last."""
        ...

    def save_project(self, project_id: str, document: dict[str, Any]) -> None: ...

    def delete_project(self, project_id: str) -> None: ...

    def put_image(self, project_id: str, sha256: str, data: bytes) -> None: ...

    def read_image(self, project_id: str, sha256: str) -> bytes:
        """The image's bytes; OSError if they are gone."""
        ...

    def delete_image(self, project_id: str, sha256: str) -> None: ...

    def rendition_path(self, project_id: str, sha256: str, kind: str) -> Path: ...

    def put_rendition(self, project_id: str, sha256: str, kind: str, data: bytes) -> None: ...

    def iteration_dir(self, project_id: str, iteration_id: str) -> Path:
        """The local folder of an iteration's model files (fetched into the cache if stored elsewhere)."""
        ...

    def save_iteration(self, project_id: str, iteration_id: str) -> None:
        """Keep the model files training wrote to ``iteration_dir``."""
        ...

    def delete_iteration(self, project_id: str, iteration_id: str) -> None: ...

    def put_export(self, project_id: str, iteration_id: str, file_name: str, data: bytes) -> None: ...

    def read_export(self, project_id: str, iteration_id: str, file_name: str) -> bytes:
        """An export zip's bytes; OSError if it is gone."""
        ...

    def delete_export(self, project_id: str, iteration_id: str, file_name: str) -> None: ...

    def signing_secret(self) -> bytes:
        """The secret of the signed links, created on first use and the same for every later start."""
        ...
