"""Read and check a Custom Vision ONNX export zip: manifest, model file and its SHA-1, labels, metadata.

Only the zip's layout is checked here; the model's inputs and outputs are checked when it is loaded
(``shared.onnx.model``).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass

from shared.errors import PermanentError

MANIFEST_FILE = "cvexport.manifest"
# Each member has a limit by its role, checked on the size the zip declares and again while it is
# decompressed (a forged header cannot lie past it), so a zip bomb is refused after at most that many
# bytes. The model: larger than any compact-domain export (EfficientNet-Lite0 with its head is ~12 MB).
# The labels: a project's most tags (500 on S0) at 256 characters of up to 4 UTF-8 bytes each.
# The manifest and the metadata: a dozen or two short keys (the service's are under 2 KB).
MAX_MODEL_BYTES = 256 * 1024 * 1024
MAX_LABELS_BYTES = 512 * 1024
MAX_MANIFEST_BYTES = 64 * 1024
MAX_METADATA_BYTES = 64 * 1024
_CHUNK = 1024 * 1024


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
        model = _member(archive, model_file, MAX_MODEL_BYTES)
        expected = manifest.get("ModelFileSHA1")
        if not isinstance(expected, str) or not expected:
            raise ModelError("ModelInvalid", f"{MANIFEST_FILE} has no ModelFileSHA1")
        actual = hashlib.sha1(model).hexdigest()
        if actual != expected.strip().lower():
            raise ModelError(
                "ModelChecksumMismatch",
                f"{model_file} has SHA-1 {actual} but {MANIFEST_FILE} says {expected.strip()}",
            )
        labels = _labels(_member(archive, label_file, MAX_LABELS_BYTES), label_file)
        metadata = _metadata(archive, manifest)
    return ExportPackage(model, labels, manifest, metadata, actual)


def _manifest(archive: zipfile.ZipFile) -> dict[str, object]:
    manifest = _json_object(_member(archive, MANIFEST_FILE, MAX_MANIFEST_BYTES), MANIFEST_FILE)
    platform = manifest.get("Platform")
    if platform is not None and not isinstance(platform, str):
        raise ModelError("ModelInvalid", f"{MANIFEST_FILE} has a Platform that is not a text value")
    if platform is not None and platform.upper() != "ONNX":
        raise ModelError("ModelInvalid", f"it was exported for the platform {platform}, not ONNX")
    domain = manifest.get("DomainType")
    if domain is not None and not isinstance(domain, str):
        raise ModelError("ModelInvalid", f"{MANIFEST_FILE} has a DomainType that is not a text value")
    if domain is not None and domain != "Classification":
        raise ModelError("ModelInvalid", f"it is a {domain} model; the pipeline classifies images")
    return manifest


def _json_object(raw: bytes, name: str) -> dict[str, object]:
    """``raw`` as a JSON object; ModelInvalid for bytes that are not JSON, nest too deeply or are not an
    object."""
    try:
        value = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelError("ModelInvalid", f"{name} is not valid JSON (or is nested too deeply)") from None
    if not isinstance(value, dict):
        raise ModelError("ModelInvalid", f"{name} is not a JSON object")
    return value


def _file_name(manifest: dict[str, object], key: str, default: str) -> str:
    name = manifest.get(key, default)
    if not isinstance(name, str) or not name:
        raise ModelError("ModelInvalid", f"{MANIFEST_FILE} has no valid {key}")
    return name


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """The member ``name``, decompressed a chunk at a time and refused as soon as it passes ``limit``."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ModelError("ModelInvalid", f"the zip has no {name} at its root") from None
    too_large = ModelError("ModelInvalid", f"{name} is larger than {_size_text(limit)}")
    if info.file_size > limit:
        raise too_large
    chunks, total = [], 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(min(_CHUNK, limit + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise too_large
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError, zlib.error):
        raise ModelError(
            "ModelInvalid", f"{name} cannot be extracted from the zip (damaged or encrypted)"
        ) from None
    return b"".join(chunks)


def _size_text(limit: int) -> str:
    return f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit // 2**10} KB"


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
    seen: dict[str, int] = {}
    for line, label in enumerate(labels, start=1):
        first = seen.setdefault(label.casefold(), line)
        if first != line:  # the service's tag names are unique regardless of case
            raise ModelError("ModelInvalid", f"{name} lists one tag twice (lines {first} and {line})")
    return labels


def _metadata(archive: zipfile.ZipFile, manifest: dict[str, object]) -> dict[str, str]:
    """``metadata_properties.json`` if the zip has it (optional: the model's metadata_props suffice)."""
    name = manifest.get("MetadataPropsFileName", "metadata_properties.json")
    if not isinstance(name, str) or name not in archive.namelist():
        return {}
    values = _json_object(_member(archive, name, MAX_METADATA_BYTES), name)
    if not all(value is None or isinstance(value, str | int | float) for value in values.values()):
        raise ModelError("ModelInvalid", f"{name} has a value that is neither text nor a number")
    return {key: str(value) for key, value in values.items() if value is not None}
