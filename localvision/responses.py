"""The wire: read what the SDK sends (query values, JSON, multipart) and shape the service's JSON replies."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from localvision.domains import Domain
from localvision.entities import Image, Iteration, Project, Tag
from localvision.exceptions import BadRequest, UnsupportedMediaType
from localvision.models import MetadataResult, PredictionResult, UploadResult

ACCESS_DENIED = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API endpoint "
        "for your resource.",
    }
}


@dataclass
class Call:
    """One request, already routed: path parameters (decoded), query, content type and body."""

    params: dict[str, str]
    query: Query
    content_type: str
    body: bytes


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able; None with 204/202 sends nothing
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None and self.status in (202, 204):
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


class Query:
    """Query parameters, matched case-insensitively; bad values answer 400 naming the parameter."""

    def __init__(self, raw: str) -> None:
        self._values: dict[str, str] = {}
        for key, value in parse_qsl(raw, keep_blank_values=True):
            self._values.setdefault(key.lower(), value)

    def text(self, name: str) -> str | None:
        return self._values.get(name.lower())

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None or value == "":
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise BadRequest("BadRequest", f"Query parameter '{name}' must be true or false, not '{value}'")

    def integer(self, name: str, default: int) -> int:
        return self._converted(name, default, int, "an integer")

    def number(self, name: str, default: float) -> float:
        return self._converted(name, default, float, "a number")

    def _converted(self, name: str, default: Any, convert: Callable[[str], Any], kind: str) -> Any:
        value = self.text(name)
        if value is None or value == "":
            return default
        try:
            return convert(value)
        except ValueError:
            message = f"Query parameter '{name}' must be {kind}, not '{value}'"
            raise BadRequest("BadRequest", message) from None

    def csv(self, name: str, limit: int | None = None) -> list[str]:
        value = self.text(name)
        items = [item.strip() for item in value.split(",") if item.strip()] if value else []
        if limit is not None and len(items) > limit:
            raise BadRequest("BadRequestInvalidIds", f"Query parameter '{name}' takes at most {limit} values")
        return items


def json_body(call: Call) -> Any:
    """The JSON body, or None when there is none (the SDK sends an empty body with a JSON content type)."""
    if not call.body.strip():
        return None
    try:
        return json.loads(call.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest("BadRequest", f"The request body is not valid JSON: {error}") from None


def json_object(call: Call) -> dict[str, Any]:
    body = json_body(call)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("BadRequest", "The request body must be a JSON object")
    return body


def _boundary(content_type: str) -> bytes:
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    raise BadRequest("BadRequestImageStream", "multipart/form-data without a boundary")


def multipart_parts(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """Every part's (filename or name, raw bytes), filename or not (the SDK sends none with bytes)."""
    delimiter = b"--" + _boundary(content_type)
    parts: list[tuple[str, bytes]] = []
    position = body.find(delimiter)
    while position >= 0:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            break
        headers_end = body.find(b"\r\n\r\n", position)
        if headers_end < 0:
            break
        end = body.find(b"\r\n" + delimiter, headers_end + 4)
        if end < 0:
            break
        parts.append((_part_name(body[position:headers_end]), body[headers_end + 4 : end]))
        position = end + 2
    if not parts:
        raise BadRequest("BadRequestImageStream", "The multipart body has no complete part")
    return parts


def _part_name(headers: bytes) -> str:
    name = ""
    for line in headers.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-disposition:"):
            for piece in line.split(";")[1:]:
                key, _, value = piece.strip().partition("=")
                if key.lower() == "filename":
                    return value.strip('"')
                if key.lower() == "name":
                    name = value.strip('"')
    return name


def image_uploads(call: Call) -> list[tuple[str, bytes]]:
    """The images in a multipart or application/octet-stream body."""
    media = call.content_type.split(";")[0].strip().lower()
    if media.startswith("multipart/"):
        return multipart_parts(call.body, call.content_type)
    if media in ("application/octet-stream", "image/jpeg", "image/png", "image/bmp", "image/gif", ""):
        if not call.body:
            raise BadRequest(
                "BadRequestImageStream", "The request has no image: send it as multipart/form-data"
            )
        return [("", call.body)]
    raise UnsupportedMediaType(
        f"Content-Type '{call.content_type}' is not supported: "
        "send multipart/form-data or application/octet-stream"
    )


def one_image(call: Call) -> bytes:
    return image_uploads(call)[0][1]


def decode_base64(text: str) -> bytes:
    """Standard base64 with padding, as the SDK sends ``ImageFileCreateEntry.contents``."""
    return base64.b64decode(text, validate=True)


def image_url(call: Call) -> str:
    body = json_object(call)
    url = body.get("url") or body.get("Url")
    if not isinstance(url, str) or not url:
        raise BadRequest("BadRequestImageUrl", 'The body must be {"url": "<http or https URL of an image>"}')
    return url


# ----- replies -----


def error_body(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def domain_json(domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "name": domain.name,
        "type": domain.type,
        "exportable": domain.exportable,
        "enabled": True,
        "exportablePlatforms": domain.exportable_platforms,
        "modelInformation": {
            "estimatedModelSizeInMegabytes": domain.model_size_mb,
            "description": domain.description or domain.name,
        },
    }


def project_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "settings": {
            "domainId": project.domain_id,
            "classificationType": project.classification_type,
            "targetExportPlatforms": project.target_export_platforms,
            "useNegativeSet": True,
            "detectionParameters": None,
            "imageProcessingSettings": project.image_processing_settings,
            "exportModelContainerUri": None,
            "notificationQueueUri": None,
        },
        "created": project.created,
        "lastModified": project.last_modified,
        "thumbnailUri": "",
        "drModeEnabled": False,
        "status": project.status,
    }


def tag_json(tag: Tag, image_count: int) -> dict[str, Any]:
    return {
        "id": tag.id,
        "name": tag.name,
        "description": tag.description or "",
        "type": tag.type,
        "imageCount": image_count,
    }


def image_json(project: Project, image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "created": image.created,
        "width": image.width,
        "height": image.height,
        "resizedImageUri": None,
        "thumbnailUri": None,
        "originalImageUri": None,
        "tags": [
            {"tagId": tag_id, "tagName": project.tags[tag_id].name, "created": created}
            for tag_id, created in image.tags.items()
            if tag_id in project.tags
        ],
        "regions": [],
        "metadata": image.metadata or None,
    }


def upload_summary(project: Project, results: list[UploadResult], all_ok: bool) -> dict[str, Any]:
    return {
        "isBatchSuccessful": all_ok,
        "images": [
            {
                "sourceUrl": result.source,
                "status": result.status,
                "image": image_json(project, result.image) if result.image else None,
            }
            for result in results
        ],
    }


def metadata_summary(results: list[MetadataResult], all_ok: bool) -> dict[str, Any]:
    return {
        "isBatchSuccessful": all_ok,
        "images": [
            {"imageId": result.image_id, "status": result.status, "metadata": result.metadata}
            for result in results
        ],
    }


def iteration_json(iteration: Iteration) -> dict[str, Any]:
    return {
        "id": iteration.id,
        "name": iteration.name,
        "status": iteration.status,
        "created": iteration.created,
        "lastModified": iteration.last_modified,
        "trainedAt": iteration.trained_at,
        "projectId": iteration.project_id,
        "exportable": False,
        "exportableTo": [],
        "domainId": iteration.domain_id,
        "classificationType": iteration.classification_type,
        "trainingType": iteration.training_type,
        "reservedBudgetInHours": iteration.reserved_budget_in_hours,
        "trainingTimeInMinutes": iteration.training_time_in_minutes,
        "publishName": iteration.publish_name,
        "originalPublishResourceId": iteration.original_publish_resource_id,
        "customBaseModelInfo": None,
        "trainingErrorDetails": iteration.training_error_details,
    }


def performance_json(iteration: Iteration, performance: Any) -> dict[str, Any]:
    return {
        "perTagPerformance": [
            {
                "id": tag["id"],
                "name": tag["name"],
                "precision": metrics.precision,
                "precisionStdDeviation": metrics.precision_std,
                "recall": metrics.recall,
                "recallStdDeviation": metrics.recall_std,
                "averagePrecision": metrics.average_precision,
            }
            for tag, metrics in zip(iteration.tags, performance.per_tag, strict=True)
        ],
        "precision": performance.precision,
        "precisionStdDeviation": performance.precision_std,
        "recall": performance.recall,
        "recallStdDeviation": performance.recall_std,
        "averagePrecision": performance.average_precision,
    }


def prediction_json(result: PredictionResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "project": result.project_id,
        "iteration": result.iteration_id,
        "created": result.created,
        "predictions": [
            {
                "probability": prediction.probability,
                "tagId": prediction.tag["id"],
                "tagName": prediction.tag["name"],
                "boundingBox": None,
                "tagType": prediction.tag.get("type", "Regular"),
            }
            for prediction in result.predictions
        ],
    }
