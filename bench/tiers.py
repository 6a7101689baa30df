"""The pipeline against a pricing tier's prediction rate: ``python -m bench --tier F0|S0``.

localvision runs with ``--tier`` (it answers 429 above the tier's rate, as the service does) and devhost,
the one local instance, with the budget the deployment gives the blob trigger: ``maximumInstanceCount`` x
``PREDICTION_MAX_TPS`` from infra/rate-budget.json (F0 1 x 1.94/s, S0 2 x 9.7/s; the quick test's own
share, ``QUICKTEST_MAX_TPS``, stays unused). The pipeline predicts
with ``classify_image_with_no_store``, so the tier's rate is the ``/nostore`` one (F0 2/s, S0 20/s). A
burst of distinct photos (the fruit photos cycled under new names) goes in at once; the figure is the
sustained rate at which result documents are written, from the first to the last (so the model's first
load and the burst's ramp do not count).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import pipeline, spans
from bench.report import Bar, Check, figure
from devstack import photos
from devstack.paths import PROJECT_ROOT
from devstack.stack import LocalStack
from devstack.vision import PUBLISHED_NAME, train_and_publish
from localvision.limits import TIERS

log = logging.getLogger("bench")
PHOTOS = {"F0": 60, "S0": 400}  # enough photos to hold the rate for 30 s (F0) and 20 s (S0)
PROJECT_NAME = "Classify Fruit"  # the shipped settings' CUSTOMVISION_PROJECT_NAME
SHARE = 0.95  # the bar: sustained throughput >= 95 % of the tier's rate
RATE_BUDGET = PROJECT_ROOT / "infra" / "rate-budget.json"


@dataclass(frozen=True)
class TierPlan:
    tier: str
    photos: int
    max_tps: float  # PREDICTION_MAX_TPS for the one local instance: the deployed app's whole budget

    @property
    def rate(self) -> float:
        return tier_rate(self.tier)


def tier_rate(tier: str) -> float:
    """The tier's prediction rate on /nostore: the calls the pipeline makes."""
    return float(TIERS[tier].nostore_predictions_per_second)


def deployed_budget(tier: str) -> float:
    """Instances x per-instance limit that infra/ deploys for this tier (the app's whole prediction rate)."""
    budget = json.loads(RATE_BUDGET.read_text())[tier]
    return budget["maximumInstanceCount"] * budget["predictionMaxTps"]


def plan_for(tier: str, photos_count: int | None = None, max_tps: float | None = None) -> TierPlan:
    """The tier's plan; by default its photo count and the deployed app's budget for the local instance."""
    return TierPlan(tier, photos_count or PHOTOS[tier], deployed_budget(tier) if max_tps is None else max_tps)


def sustained(written: list[float]) -> float:
    """Documents per second between the first and the last document written."""
    if len(written) < 2 or max(written) <= min(written):
        return float("nan")
    return (len(written) - 1) / (max(written) - min(written))


def run(plan: TierPlan, workdir: Path) -> dict[str, Any]:
    """A fresh stack with the tier, a model trained with the SDK, the burst, the figures."""
    root = photos.require()
    stack = LocalStack.start(workdir, "--tier", plan.tier)
    try:
        values = {"PREDICTION_MAX_TPS": f"{plan.max_tps:g}", "PUBLISHED_NAME": PUBLISHED_NAME}
        log.info("tier %s: training the fruit model with the SDK", plan.tier)
        train_and_publish(stack.endpoint, "Classify Fruit", photos.training(root), "fruit-classifier")
        stack.start_devhost({**values, "CUSTOMVISION_PROJECT_NAME": "Classify Fruit"})
        images, results = pipeline.containers(stack.conn_str, stack.values)
        sources = photos.test_photos(root) + photos.training(root) + photos.more_training(root)
        batch = photos.copies(sources, plan.photos, f"{plan.tier.lower()}-")
        log.info("tier %s: %d photos at once, PREDICTION_MAX_TPS=%g", plan.tier, plan.photos, plan.max_tps)
        started = time.monotonic()
        drop = pipeline.burst(images, batch)
        pipeline.wait_for_documents(results, drop, timeout=120 + 4 * plan.photos / plan.rate)
        seconds = time.monotonic() - started
        records = spans.attempts_when_written(stack.telemetry_file, list(drop.uploaded))
        devhost_log = stack.devhost.log.read_text(errors="replace") if stack.devhost else ""
    finally:
        stack.stop()
    documents = drop.documents
    written = [r.get("resultWritten") or r["ended"] for n, r in records.items() if n in documents]
    codes = [(d.get("error") or {}).get("code") for d in documents.values() if d.get("status") != "ok"]
    return {
        "tier": plan.tier,
        "rate": plan.rate,
        "maxTps": plan.max_tps,
        "images": plan.photos,
        "documents": len(documents),
        "wrongEtag": sum(
            1 for n, d in documents.items() if (d.get("blob") or {}).get("etag") != drop.etags[n]
        ),
        "retriesExhausted": codes.count("RetriesExhausted"),
        "errors": len(codes) - codes.count("RetriesExhausted"),
        "errorCodes": sorted(set(codes)),
        "sustainedPerSecond": sustained(written),
        "overallPerSecond": plan.photos / seconds,
        "seconds": seconds,
        "throttled": len(re.findall(r"throttled the call \(HTTP 429\)", devhost_log)),
    }


def checks(figures: dict[str, Any]) -> list[Bar | Check]:
    tier, images = figures["tier"], figures["images"]
    exhausted, errors = figures["retriesExhausted"], figures["errors"]
    complete = figures["documents"] == images and figures["wrongEtag"] == 0
    return [
        Bar(
            f"{tier}: sustained throughput",
            figures["sustainedPerSecond"],
            SHARE * figures["rate"],
            "/s",
            False,
        ),
        Check(f"{tier}: no RetriesExhausted document", exhausted == 0, f"{exhausted} of {images}"),
        Check(
            f"{tier}: no error document",
            errors == 0,
            f"{errors} ({', '.join(figures['errorCodes']) or 'none'})",
        ),
        Check(
            f"{tier}: one document per photo version",
            complete,
            f"{figures['documents']}/{images}, {figures['wrongEtag']} wrong ETag",
        ),
    ]


def figure_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        figure("tier rate on /nostore", figures["rate"], "/s"),
        figure("PREDICTION_MAX_TPS (one instance)", figures["maxTps"], "/s"),
        figure(f"all {figures['images']} photos, upload to last document", figures["overallPerSecond"], "/s"),
        figure("time from the first upload to the last document", figures["seconds"], "s"),
        figure("calls throttled by localvision (HTTP 429), retried", figures["throttled"], ""),
    ]
