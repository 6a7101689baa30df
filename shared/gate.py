"""The publish gate: an iteration is published only if its metrics reach the minimums and are not worse
than the published iteration's by more than GATE_TOLERANCE."""

from __future__ import annotations

from typing import Any

from shared.settings import Settings

# run-record metric name -> the setting holding its minimum
MINIMUMS = {"precision": "GATE_MIN_PRECISION", "recall": "GATE_MIN_RECALL", "averagePrecision": "GATE_MIN_AP"}


def _value(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def metrics_of(performance: Any, threshold: float) -> dict[str, Any]:
    """The SDK's IterationPerformance as a camelCase dict."""
    return {
        "threshold": threshold,
        "precision": _value(performance.precision),
        "recall": _value(performance.recall),
        "averagePrecision": _value(performance.average_precision),
        "perTag": [
            {
                "tagName": tag.name,
                "precision": _value(tag.precision),
                "recall": _value(tag.recall),
                "averagePrecision": _value(tag.average_precision),
            }
            for tag in performance.per_tag_performance or []
        ],
    }


def decide(metrics: dict[str, Any], previous: dict[str, Any] | None, settings: Settings) -> dict[str, Any]:
    """The gate's decision: passed, the reasons it did not, and what it compared against."""
    tolerance = settings["GATE_TOLERANCE"]
    reasons: list[str] = []
    for name, setting in MINIMUMS.items():
        value, minimum = metrics.get(name), settings[setting]
        if value is None:
            reasons.append(f"{name} was not reported")
        elif value < minimum:
            reasons.append(f"{name} {value:.3f} < {setting} {minimum:.3f}")
        elif previous is not None and previous.get(name) is not None and value < previous[name] - tolerance:
            reasons.append(
                f"{name} {value:.3f} is worse than the published iteration's {previous[name]:.3f} by more "
                f"than GATE_TOLERANCE {tolerance:.3f}"
            )
    return {
        "passed": not reasons,
        "reasons": reasons,
        "minimums": {name: settings[setting] for name, setting in MINIMUMS.items()},
        "tolerance": tolerance,
        "comparedWith": previous and {k: previous.get(k) for k in MINIMUMS},
    }
