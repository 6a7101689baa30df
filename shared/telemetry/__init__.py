"""Traces and metrics of the pipeline, through the OpenTelemetry API only (docs/telemetry.md).

``configure(settings)`` chooses where they go (TELEMETRY_EXPORTER: none, azuremonitor or file) once at
start-up; the rest of ``shared/`` opens spans and records metrics with the helpers in ``spans`` and
``metrics``, which cost next to nothing while nothing is configured.
"""

from shared.telemetry.metrics import rate_waited, retrain_finished, retried
from shared.telemetry.setup import configure
from shared.telemetry.spans import image_span, predict_span, retrain_step, stage, traced

__all__ = [
    "configure",
    "image_span",
    "predict_span",
    "rate_waited",
    "retrain_finished",
    "retrain_step",
    "retried",
    "stage",
    "traced",
]
