"""Typed readers for every JSON body the service takes: a body of the wrong shape answers 400, never 500.

Each reader names the field that is wrong and shows the shape to send (``exceptions.BODY_SHAPE`` /
``BATCH_SHAPE``); JSON ``null`` counts as absent, like the service's optional fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localvision import exceptions as errors
from localvision.exceptions import ErrorSpec
from localvision.wire.requests import Call


class _Shape:
    """Checks values against one operation's body, raising ``spec`` with ``expected`` on a mismatch."""

    def __init__(self, spec: ErrorSpec, expected: str) -> None:
        self.spec = spec
        self.expected = expected

    def fail(self, where: str, wanted: str) -> errors.ServiceError:
        return self.spec.error(problem=f"'{where}' must be {wanted}", expected=self.expected)

    def root(self, call: Call) -> dict[str, Any]:
        body = call.json()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise self.spec.error(problem="The body must be a JSON object", expected=self.expected)
        return body

    def object(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, "an object")
        return value

    def text(self, parent: dict[str, Any], key: str, where: str) -> str | None:
        value = parent.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(where, "a string")
        return value

    def texts(self, parent: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = parent.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(where, "a list of strings")
        return tuple(value)

    def objects(self, parent: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, "a list of objects")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{where}[{index}]", "an object")
        return value


@dataclass(frozen=True)
class FileEntry:
    name: str
    contents: str
    tag_ids: tuple[str, ...]


@dataclass(frozen=True)
class UrlEntry:
    url: str
    tag_ids: tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    """An image batch from JSON: its entries, and the tags and metadata for all of them."""

    entries: tuple[Any, ...]
    tag_ids: tuple[str, ...]
    metadata: dict[str, Any]


def create_project_options(call: Call) -> None:
    """CreateProjectOptions (export/notification URIs): accepted and unused locally."""
    _Shape(errors.BODY_SHAPE, '{"exportModelContainerUri": "...", "notificationQueueUri": "..."}').root(call)


@dataclass(frozen=True)
class ProjectUpdate:
    name: str | None
    description: str | None
    domain_id: str | None
    classification_type: str | None
    image_processing_settings: dict[str, Any] | None


def project_update(call: Call) -> ProjectUpdate:
    shape = _Shape(
        errors.BODY_SHAPE,
        '{"name": "...", "description": "...", "settings": {"domainId": "...", "classificationType": "..."}}',
    )
    body = shape.root(call)
    settings = shape.object(body.get("settings"), "settings")
    processing = settings.get("imageProcessingSettings")
    if processing is not None and not isinstance(processing, dict):
        raise shape.fail("settings.imageProcessingSettings", "an object")
    return ProjectUpdate(
        shape.text(body, "name", "name"),
        shape.text(body, "description", "description"),
        shape.text(settings, "domainId", "settings.domainId"),
        shape.text(settings, "classificationType", "settings.classificationType"),
        processing,
    )


@dataclass(frozen=True)
class TagUpdate:
    name: str | None
    description: str | None
    type: str | None


def tag_update(call: Call) -> TagUpdate:
    shape = _Shape(errors.BODY_SHAPE, '{"name": "...", "description": "...", "type": "Regular"}')
    body = shape.root(call)
    return TagUpdate(
        shape.text(body, "name", "name"),
        shape.text(body, "description", "description"),
        shape.text(body, "type", "type"),
    )


def _batch(call: Call, shape: _Shape) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    body = shape.root(call)
    entries = shape.objects(body, "images", "images")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise shape.fail("metadata", "an object of string keys and values")
    return body, entries


def file_batch(call: Call) -> Batch:
    shape = _Shape(
        errors.BATCH_SHAPE,
        '{"images": [{"name": "a.jpg", "contents": "<base64>", "tagIds": ["..."]}], "tagIds": []}',
    )
    body, raw = _batch(call, shape)
    entries = []
    for index, entry in enumerate(raw):
        where = f"images[{index}]"
        name = shape.text(entry, "name", f"{where}.name") or ""
        contents = shape.text(entry, "contents", f"{where}.contents") or ""
        entries.append(FileEntry(name, contents, shape.texts(entry, "tagIds", f"{where}.tagIds")))
    return Batch(tuple(entries), shape.texts(body, "tagIds", "tagIds"), body.get("metadata") or {})


def url_batch(call: Call) -> Batch:
    shape = _Shape(
        errors.BATCH_SHAPE, '{"images": [{"url": "https://...", "tagIds": ["..."]}], "tagIds": []}'
    )
    body, raw = _batch(call, shape)
    entries = []
    for index, entry in enumerate(raw):
        where = f"images[{index}]"
        url = shape.text(entry, "url", f"{where}.url") or ""
        entries.append(UrlEntry(url, shape.texts(entry, "tagIds", f"{where}.tagIds")))
    return Batch(tuple(entries), shape.texts(body, "tagIds", "tagIds"), body.get("metadata") or {})


def metadata(call: Call) -> dict[str, Any]:
    """The metadata pairs; keys and values are checked by the state (their own error codes)."""
    return _Shape(errors.BODY_SHAPE, '{"key": "value"}').root(call)


def image_tag_pairs(call: Call) -> list[tuple[str, str]]:
    shape = _Shape(errors.BODY_SHAPE, '{"tags": [{"imageId": "...", "tagId": "..."}]}')
    body = shape.root(call)
    pairs = []
    for index, entry in enumerate(shape.objects(body, "tags", "tags")):
        image_id = shape.text(entry, "imageId", f"tags[{index}].imageId")
        tag_id = shape.text(entry, "tagId", f"tags[{index}].tagId")
        if not image_id or not tag_id:
            raise shape.fail(f"tags[{index}]", "an object with imageId and tagId")
        pairs.append((image_id, tag_id))
    return pairs


@dataclass(frozen=True)
class TrainingParameters:
    selected_tags: tuple[str, ...]
    custom_base_model: bool


def training_parameters(call: Call) -> TrainingParameters:
    shape = _Shape(errors.BODY_SHAPE, '{"selectedTags": ["<tag id>", ...]}')
    body = shape.root(call)
    return TrainingParameters(
        shape.texts(body, "selectedTags", "selectedTags"), bool(body.get("customBaseModelInfo"))
    )


def iteration_name(call: Call) -> str | None:
    shape = _Shape(errors.BODY_SHAPE, '{"name": "..."}')
    return shape.text(shape.root(call), "name", "name")


def image_url(call: Call) -> str:
    body = _Shape(errors.IMAGE_URL_BODY_SHAPE, '{"url": "<http or https URL of an image>"}').root(call)
    url = body.get("url") or body.get("Url")
    if not isinstance(url, str) or not url:
        raise errors.IMAGE_URL_BODY.error()
    return url
