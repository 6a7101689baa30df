"""The service's JSON replies, shaped from state snapshots (``localvision.state.views``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from localvision.domains import Domain, find_domain
from localvision.files import ImageLinks
from localvision.state.views import (
    ExportView,
    ImagePerformance,
    ImageView,
    IterationView,
    MetadataResult,
    PredictionResult,
    ProjectView,
    TagPrediction,
    TagView,
    UploadResult,
)

ACCESS_DENIED = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API endpoint "
        "for your resource.",
    }
}


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # JSON-able; None with 204/202 sends nothing
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (an image download)
    media_type: str = "application/json; charset=utf-8"

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None and self.status in (202, 204):
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


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


def project_json(project: ProjectView) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "settings": {
            "domainId": project.domain_id,
            "classificationType": project.classification_type,
            "targetExportPlatforms": list(project.target_export_platforms),
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


def tag_json(tag: TagView) -> dict[str, Any]:
    return {
        "id": tag.id,
        "name": tag.name,
        "description": tag.description or "",
        "type": tag.type,
        "imageCount": tag.image_count,
    }


def image_json(image: ImageView, links: ImageLinks | None) -> dict[str, Any]:
    def link(kind: str) -> str | None:
        return links.link(image.project_id, image.id, kind) if links else None

    return {
        "id": image.id,
        "created": image.created,
        "width": image.width,
        "height": image.height,
        "resizedImageUri": link("resized"),
        "thumbnailUri": link("thumbnail"),
        "originalImageUri": link("original"),
        "tags": [{"tagId": t.tag_id, "tagName": t.tag_name, "created": t.created} for t in image.tags],
        "regions": [],
        "metadata": dict(image.metadata) or None,
    }


def upload_summary(results: list[UploadResult], all_ok: bool, links: ImageLinks | None) -> dict[str, Any]:
    return {
        "isBatchSuccessful": all_ok,
        "images": [
            {
                "sourceUrl": result.source,
                "status": result.status,
                "image": image_json(result.image, links) if result.image else None,
            }
            for result in results
        ],
    }


def metadata_summary(results: list[MetadataResult], all_ok: bool) -> dict[str, Any]:
    return {
        "isBatchSuccessful": all_ok,
        "images": [
            {
                "imageId": result.image_id,
                "status": result.status,
                "metadata": dict(result.metadata) if result.metadata is not None else None,
            }
            for result in results
        ],
    }


def iteration_json(iteration: IterationView) -> dict[str, Any]:
    domain = find_domain(iteration.domain_id)
    platforms = domain.exportable_platforms if domain and iteration.status == "Completed" else []
    return {
        "id": iteration.id,
        "name": iteration.name,
        "status": iteration.status,
        "created": iteration.created,
        "lastModified": iteration.last_modified,
        "trainedAt": iteration.trained_at,
        "projectId": iteration.project_id,
        "exportable": bool(platforms),
        "exportableTo": platforms,
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


def performance_json(iteration: IterationView, performance: Any) -> dict[str, Any]:
    return {
        "perTagPerformance": [
            {
                "id": tag.id,
                "name": tag.name,
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
        # not in Custom Vision's reply: its SDKs keep unknown fields aside (additional_properties)
        "expectedCalibrationError": performance.calibration_error,
    }


def image_performance_json(entry: ImagePerformance, links: ImageLinks | None) -> dict[str, Any]:
    image = image_json(entry.image, links)
    return {
        "id": image["id"],
        "created": image["created"],
        "width": image["width"],
        "height": image["height"],
        "imageUri": image["originalImageUri"],
        "thumbnailUri": image["thumbnailUri"],
        "tags": image["tags"],
        "regions": [],
        "predictions": [_prediction(prediction) for prediction in entry.predictions],
    }


def _prediction(prediction: TagPrediction) -> dict[str, Any]:
    """One tag's probability, as both the prediction API and the image performances answer it."""
    return {
        "probability": prediction.probability,
        "tagId": prediction.tag.id,
        "tagName": prediction.tag.name,
        "boundingBox": None,
        "tagType": prediction.tag.type,
    }


def prediction_json(result: PredictionResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "project": result.project_id,
        "iteration": result.iteration_id,
        "created": result.created,
        "predictions": [_prediction(prediction) for prediction in result.predictions],
    }


def export_json(export: ExportView, links: ImageLinks) -> dict[str, Any]:
    return {
        "platform": export.platform,
        "status": export.status,
        "downloadUri": links.export_link(export),
        "flavor": export.flavor,
        "newerVersionAvailable": export.newer_version_available,
    }
