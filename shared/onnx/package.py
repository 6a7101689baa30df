"""Read and check a Custom Vision ONNX export zip: manifest, model file and its SHA-1, labels, metadata.

Only the zip's layout is checked here; the model's inputs and outputs are checked when it is loaded
(``shared.onnx.model``).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

from shared.errors import PermanentError

MANIFEST_FILE = "cvexport.manifest"
# Larger than any compact-domain export (EfficientNet-Lite0 with its head is ~12 MB): a bigger member is
# refused before it is read, so a crafted zip cannot fill the memory.
MAX_MEMBER_BYTES = 256 * 1024 * 1024


class ModelError(PermanentError):
    """A model zip the pipeline cannot classify with; ``code`` is one of the catalogue's Model* codes and
    ``detail`` (a file name, a shape, a key's value) says what exactly."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail=detail)
        self.detail = detail


@dataclass(frozen=True)
class ExportPackage:
    model: bytes
    labels: tuple[str, ...]
    manifest: dict[str, object]
    metadata: dict[str, str]  # metadata_properties.json (the model's own metadata_props take precedence)
    sha1: str


def read_package(data: bytes) -> ExportPackage:
    """The checked contents of an export zip; ModelError (ModelInvalid, ModelChecksumMismatch) otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise ModelError("ModelInvalid", "the file is not a zip archive") from None
    with archive:
        manifest = _manifest(archive)
        model_file = _file_name(manifest, "ModelFileName", "model.onnx")
        label_file = _file_name(manifest, "LabelFileName", "labels.txt")
        model = _member(archive, model_file)
        expected = manifest.get("ModelFileSHA1")
        if not isinstance(expected, str) or not expected:
            raise ModelError("ModelInvalid", f"{MANIFEST_FILE} has no ModelFileSHA1")
        actual = hashlib.sha1(model).hexdigest()
        if actual != expected.strip().lower():
            raise ModelError(
                "ModelChecksumMismatch",
                f"{model_file} has SHA-1 {actual} but {MANIFEST_FILE} says {expected.strip()}",
            )
        labels = _labels(_member(archive, label_file), label_file)
        metadata = _metadata(archive, manifest)
    return ExportPackage(model, labels, manifest, metadata, actual)


def _manifest(archive: zipfile.ZipFile) -> dict[str, object]:
    raw = _member(archive, MANIFEST_FILE)
    try:
        manifest = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise ModelError("ModelInvalid", f"{MANIFEST_FILE} is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise ModelError("ModelInvalid", f"{MANIFEST_FILE} is not a JSON object")
    platform = manifest.get("Platform")
    if platform is not None and str(platform).upper() != "ONNX":
        raise ModelError("ModelInvalid", f"it was exported for the platform {platform}, not ONNX")
    domain = manifest.get("DomainType")
    if domain is not None and domain != "Classification":
        raise ModelError("ModelInvalid", f"it is a {domain} model; the pipeline classifies images")
    return manifest


def _file_name(manifest: dict[str, object], key: str, default: str) -> str:
    name = manifest.get(key, default)
    if not isinstance(name, str) or not name:
        raise ModelError("ModelInvalid", f"{MANIFEST_FILE} has no valid {key}")
    return name


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ModelError("ModelInvalid", f"the zip has no {name} at its root") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise ModelError("ModelInvalid", f"{name} is larger than {MAX_MEMBER_BYTES // 2**20} MB")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError):
        raise ModelError(
            "ModelInvalid", f"{name} cannot be extracted from the zip (damaged or encrypted)"
        ) from None


def _labels(raw: bytes, name: str) -> tuple[str, ...]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelError("ModelInvalid", f"{name} is not UTF-8 text") from None
    labels = tuple(line.strip() for line in text.splitlines())
    while labels and not labels[-1]:
        labels = labels[:-1]
    if not labels:
        raise ModelError("ModelInvalid", f"{name} lists no tags")
    if not all(labels):
        raise ModelError("ModelInvalid", f"{name} has an empty line among its tags")
    return labels


def _metadata(archive: zipfile.ZipFile, manifest: dict[str, object]) -> dict[str, str]:
    """``metadata_properties.json`` if the zip has it (optional: the model's metadata_props suffice)."""
    name = manifest.get("MetadataPropsFileName", "metadata_properties.json")
    if not isinstance(name, str) or name not in archive.namelist():
        return {}
    try:
        values = json.loads(_member(archive, name).decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise ModelError("ModelInvalid", f"{name} is not valid JSON") from None
    if not isinstance(values, dict):
        raise ModelError("ModelInvalid", f"{name} is not a JSON object")
    return {str(key): str(value) for key, value in values.items() if value is not None}
