"""The publish gate: an iteration is published only if its metrics reach the minimums and are not worse
than the published iteration's by more than GATE_TOLERANCE."""

from __future__ import annotations

from typing import Any

from shared.runs.record import Gate, GateMetrics, Metrics, TagMetrics
from shared.settings.definitions import Settings

# metric -> the setting holding its minimum
MINIMUM_SETTINGS = {
    "precision": "GATE_MIN_PRECISION",
    "recall": "GATE_MIN_RECALL",
    "average_precision": "GATE_MIN_AP",
}


def _value(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def metrics_of(performance: Any, threshold: float) -> Metrics:
    """The SDK's IterationPerformance as the run record's metrics."""
    return Metrics(
        threshold=threshold,
        precision=_value(performance.precision),
        recall=_value(performance.recall),
        average_precision=_value(performance.average_precision),
        per_tag=[
            TagMetrics(tag.name, _value(tag.precision), _value(tag.recall), _value(tag.average_precision))
            for tag in performance.per_tag_performance or []
        ],
    )


def _headline(metrics: Metrics) -> GateMetrics:
    return GateMetrics(metrics.precision, metrics.recall, metrics.average_precision)


def decide(metrics: Metrics, previous: Metrics | None, settings: Settings) -> Gate:
    """The gate's decision: passed, the reasons it did not, and what it compared against."""
    tolerance = settings.gate_tolerance
    minimums = GateMetrics(settings.gate_min_precision, settings.gate_min_recall, settings.gate_min_ap)
    reasons: list[str] = []
    for name, setting in MINIMUM_SETTINGS.items():
        value, minimum = getattr(metrics, name), getattr(minimums, name)
        old = getattr(previous, name) if previous is not None else None
        label = "averagePrecision" if name == "average_precision" else name
        if value is None:
            reasons.append(f"{label} was not reported")
        elif value < minimum:
            reasons.append(f"{label} {value:.3f} < {setting} {minimum:.3f}")
        elif old is not None and value < old - tolerance:
            reasons.append(
                f"{label} {value:.3f} is worse than the published iteration's {old:.3f} by more "
                f"than GATE_TOLERANCE {tolerance:.3f}"
            )
    return Gate(
        passed=not reasons,
        reasons=reasons,
        minimums=minimums,
        tolerance=tolerance,
        compared_with=_headline(previous) if previous is not None else None,
    )
