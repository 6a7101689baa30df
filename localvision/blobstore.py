"""The state in a blob container (``--store blob``), laid out as ``localvision.persistence`` describes.

The data folder becomes a cache of images and model files that can be lost at any time: everything is
read back from the container. Project documents are written with ETag conditions (If-Match the ETag read
last, or If-None-Match * for a new project), so a second writer gets ``StaleProject`` instead of
overwriting a change it has not seen.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings, ExponentialRetry

from localvision.persistence import StaleProject, atomic_write

SIGNING_KEY_BLOB = "signing.key"
JSON = ContentSettings(content_type="application/json")
# Waits of 1, 3 and 5 s, each +-1 s (the SDK's default is 15 s +-3 s, then more): a request does not hang
# on a lost account.
RETRY = {"initial_backoff": 1, "increment_base": 2, "retry_total": 3, "random_jitter_range": 1}


def container_client(
    container: str, connection_string: str | None = None, account_url: str | None = None
) -> ContainerClient:
    """A client for ``container`` from a connection string (Azurite) or an account URL, whose token comes
    from azure-identity (in Azure a managed identity: a user-assigned one's client id in AZURE_CLIENT_ID)."""
    if connection_string:
        return ContainerClient.from_connection_string(
            connection_string, container, retry_policy=ExponentialRetry(**RETRY)
        )
    if not account_url:
        raise ValueError("the blob store needs a connection string or an account URL")
    from azure.identity import DefaultAzureCredential

    return ContainerClient(
        account_url, container, credential=DefaultAzureCredential(), retry_policy=ExponentialRetry(**RETRY)
    )


def _project_prefix(project_id: str) -> str:
    return f"projects/{project_id}/"


def _iteration_prefix(project_id: str, iteration_id: str) -> str:
    return f"{_project_prefix(project_id)}iterations/{iteration_id}/"


class BlobStore:
    """Projects, images, model files, exports and the signing key in a container; a cache in ``root``."""

    def __init__(self, root: Path, container: ContainerClient) -> None:
        self.root = root
        self.container = container
        self._etags: dict[str, str] = {}  # project id -> ETag of the document read or written last
        self._fetched: set[str] = set()  # iterations whose model files are in the cache
        root.mkdir(parents=True, exist_ok=True)
        if not container.exists():
            with contextlib.suppress(ResourceExistsError):  # another server created it first
                container.create_container()

    # ----- project documents -----

    def load_projects(self) -> Iterator[dict[str, Any]]:
        names = sorted(
            blob.name
            for blob in self.container.list_blobs(name_starts_with="projects/")
            if blob.name.count("/") == 2 and blob.name.endswith("/project.json")
        )
        for name in names:
            document = self.reload_project(name.split("/")[1])
            if document is not None:
                yield document

    def reload_project(self, project_id: str) -> dict[str, Any] | None:
        try:
            download = self.container.download_blob(f"{_project_prefix(project_id)}project.json")
            data = download.readall()
        except ResourceNotFoundError:
            self._etags.pop(project_id, None)
            return None
        self._etags[project_id] = download.properties.etag
        return json.loads(data)

    def save_project(self, project_id: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, separators=(",", ":")).encode()
        blob = self.container.get_blob_client(f"{_project_prefix(project_id)}project.json")
        etag = self._etags.get(project_id)
        try:
            if etag is None:  # a new project: only if nobody wrote one under this id
                result = blob.upload_blob(data, overwrite=False, content_settings=JSON)
            else:
                result = blob.upload_blob(
                    data,
                    overwrite=True,
                    content_settings=JSON,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError) as error:
            raise StaleProject(project_id) from error
        self._etags[project_id] = result["etag"]

    def delete_project(self, project_id: str) -> None:
        self._delete_prefix(_project_prefix(project_id))
        self._etags.pop(project_id, None)
        shutil.rmtree(self.root / "projects" / project_id, ignore_errors=True)

    # ----- images and renditions -----

    def _image_cache(self, project_id: str, sha256: str) -> Path:
        return self.root / "projects" / project_id / "images" / sha256

    def put_image(self, project_id: str, sha256: str, data: bytes) -> None:
        # The name is the content's hash: an existing blob already holds these bytes.
        with contextlib.suppress(ResourceExistsError):
            self.container.upload_blob(f"{_project_prefix(project_id)}images/{sha256}", data, overwrite=False)
        atomic_write(self._image_cache(project_id, sha256), data)

    def read_image(self, project_id: str, sha256: str) -> bytes:
        cached = self._image_cache(project_id, sha256)
        if cached.exists():
            return cached.read_bytes()
        data = self._download(f"{_project_prefix(project_id)}images/{sha256}")
        atomic_write(cached, data)
        return data

    def delete_image(self, project_id: str, sha256: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(f"{_project_prefix(project_id)}images/{sha256}")
        self._image_cache(project_id, sha256).unlink(missing_ok=True)
        for rendition in (self.root / "projects" / project_id / "renditions").glob(f"{sha256}-*"):
            rendition.unlink(missing_ok=True)

    def rendition_path(self, project_id: str, sha256: str, kind: str) -> Path:
        return self.root / "projects" / project_id / "renditions" / f"{sha256}-{kind}"

    def put_rendition(self, project_id: str, sha256: str, kind: str, data: bytes) -> None:
        if project_id in self._etags:  # not for a project deleted meanwhile
            atomic_write(self.rendition_path(project_id, sha256, kind), data)

    # ----- iterations and exports -----

    def iteration_dir(self, project_id: str, iteration_id: str) -> Path:
        folder = self.root / "projects" / project_id / "iterations" / iteration_id
        if iteration_id not in self._fetched or not folder.is_dir():  # the cache may go at any time
            prefix = _iteration_prefix(project_id, iteration_id)
            for blob in self.container.list_blobs(name_starts_with=prefix):
                name = blob.name[len(prefix) :]
                if "/" in name:  # exports are read on demand
                    continue
                if not (folder / name).exists():
                    atomic_write(folder / name, self._download(blob.name))
                self._fetched.add(iteration_id)
        return folder

    def save_iteration(self, project_id: str, iteration_id: str) -> None:
        folder = self.root / "projects" / project_id / "iterations" / iteration_id
        prefix = _iteration_prefix(project_id, iteration_id)
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                self.container.upload_blob(prefix + path.name, path.read_bytes(), overwrite=True)
        self._fetched.add(iteration_id)

    def delete_iteration(self, project_id: str, iteration_id: str) -> None:
        self._delete_prefix(_iteration_prefix(project_id, iteration_id))
        self._fetched.discard(iteration_id)
        folder = self.root / "projects" / project_id / "iterations" / iteration_id
        shutil.rmtree(folder, ignore_errors=True)

    def put_export(self, project_id: str, iteration_id: str, file_name: str, data: bytes) -> None:
        name = f"{_iteration_prefix(project_id, iteration_id)}exports/{file_name}"
        self.container.upload_blob(name, data, overwrite=True)

    def read_export(self, project_id: str, iteration_id: str, file_name: str) -> bytes:
        return self._download(f"{_iteration_prefix(project_id, iteration_id)}exports/{file_name}")

    def delete_export(self, project_id: str, iteration_id: str, file_name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(f"{_iteration_prefix(project_id, iteration_id)}exports/{file_name}")

    # ----- the signing key -----

    def signing_secret(self) -> bytes:
        try:
            return bytes.fromhex(self._download(SIGNING_KEY_BLOB).decode().strip())
        except FileNotFoundError:
            pass
        # First start on this container; if another server wins the race, read its key.
        with contextlib.suppress(ResourceExistsError):
            self.container.upload_blob(SIGNING_KEY_BLOB, secrets.token_hex(32).encode(), overwrite=False)
        return bytes.fromhex(self._download(SIGNING_KEY_BLOB).decode().strip())

    # ----- helpers -----

    def _download(self, name: str) -> bytes:
        """A blob's bytes; FileNotFoundError (an OSError, as from the file store) if it is not there."""
        try:
            return self.container.download_blob(name).readall()
        except ResourceNotFoundError:
            raise FileNotFoundError(name) from None

    def _delete_prefix(self, prefix: str) -> None:
        for blob in self.container.list_blobs(name_starts_with=prefix):
            with contextlib.suppress(ResourceNotFoundError):  # deleted meanwhile
                self.container.delete_blob(blob.name)
