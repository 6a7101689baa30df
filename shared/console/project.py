"""What the console needs from the Custom Vision project: its tags and its iterations' metrics."""

from __future__ import annotations

from typing import Any

from shared.contracts import encode
from shared.customvision.clients import CustomVision
from shared.errors import PipelineError
from shared.retrain.gate import metrics_of


class Project:
    def __init__(self, cv: CustomVision, threshold: float, negative_folder: str) -> None:
        self.cv = cv
        self.threshold = threshold
        self.negative_folder = negative_folder

    def tags(self) -> list[dict[str, Any]]:
        """The project's tags, regular ones sorted by name (the review keys 1..9 follow this order)."""
        pid = self.cv.project_id(create=False)
        tags = self.cv.training(lambda t: t.get_tags(pid), "list tags")
        rows = [
            {"id": t.id, "name": t.name, "type": t.type or "Regular", "imageCount": t.image_count}
            for t in tags
        ]
        return sorted(rows, key=lambda row: (row["type"] != "Regular", row["name"].lower()))

    def tag_folders(self) -> set[str]:
        """Training folders the console may file images under: the regular tags and the Negative folder."""
        return {t["name"] for t in self.tags() if t["type"] == "Regular"} | {self.negative_folder}

    def iterations(self, threshold: float | None = None) -> list[dict[str, Any]]:
        """Every trained iteration, oldest first, with precision / recall / AP at ``threshold`` (default
        PREDICTION_THRESHOLD), the expected calibration error when the service reports one (localvision
        does) and its images per tag."""
        threshold = self.threshold if threshold is None else threshold
        pid = self.cv.project_id(create=False)
        found = self.cv.training(lambda t: t.get_iterations(pid), "list iterations")
        rows = []
        for iteration in sorted(found, key=lambda i: i.created):
            row = {
                "id": iteration.id,
                "name": iteration.name,
                "status": iteration.status,
                "created": _iso(iteration.created),
                "trainedAt": _iso(iteration.trained_at),
                "publishedName": iteration.publish_name,
                "metrics": None,
            }
            if iteration.status == "Completed":
                try:
                    performance = self.cv.training(
                        lambda t, i=iteration: t.get_iteration_performance(pid, i.id, threshold=threshold),
                        "iteration performance",
                    )
                    row["metrics"] = encode(metrics_of(performance, threshold))
                    row["metrics"]["expectedCalibrationError"] = _calibration_error(performance)
                    tags = self.cv.training(
                        lambda t, i=iteration: t.get_tags(pid, iteration_id=i.id), "iteration tags"
                    )
                    row["imageCounts"] = {t.name: t.image_count for t in tags}
                except PipelineError as error:  # deleted meanwhile: show it without metrics
                    row["error"] = error.message
            rows.append(row)
        return rows


def _calibration_error(performance: Any) -> float | None:
    """localvision's extra field (Custom Vision reports none); the SDK keeps unknown fields aside."""
    value = (getattr(performance, "additional_properties", None) or {}).get("expectedCalibrationError")
    return round(float(value), 6) if isinstance(value, int | float) else None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(value, "strftime") else str(value)
