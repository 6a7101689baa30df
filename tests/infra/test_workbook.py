"""The Azure Monitor workbook (infra/app/workbook.bicep + workbook.json), offline: its resource and wiring,
and its queries against the span names and attributes the code emits. tests/data/specs has no types.json
for Microsoft.Insights/workbooks, so its body is checked here instead of by test_types.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shared.telemetry import spans
from tests.infra.bicep import INFRA, only_resource, parse, property_accessor

WORKBOOK_JSON = INFRA / "app" / "workbook.json"
RETRAIN_STEPS = ("sync", "train", "poll", "evaluate", "gate", "publish", "export", "prune")
SPAN_NAMES = {spans.IMAGE_SPAN, "normalise", "predict", "write result", "review copy"} | {
    f"retrain {step}" for step in RETRAIN_STEPS
}
ATTRIBUTES = {spans.BLOB, spans.ETAG, spans.BACKEND, spans.ITERATION, spans.RUN_ID, spans.STEP}
ATTRIBUTES |= {spans.OUTCOME, spans.ERROR_CODE}
SECTIONS = ("throughput", "review-share", "failures", "latency", "slowest", "retrain-history")


def queries(workbook: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["content"]["query"] for item in workbook["items"] if item["type"] == 3}


def span_names(query: str) -> list[str]:
    """The span names a query filters on: ``name == "x"``, ``name startswith "x"``, ``name in ("x", ...)``."""
    names = re.findall(r'name (?:==|startswith) "([^"]+)"', query)
    for group in re.findall(r"name in \(([^)]*)\)", query):
        names += re.findall(r'"([^"]+)"', group)
    return names


def query_errors(workbook: dict[str, Any]) -> list[str]:
    """What in the queries does not match the telemetry: tables, span names, customDimensions keys."""
    errors = []
    for name, query in queries(workbook).items():
        if not query.startswith("dependencies\n"):
            errors.append(f"{name}: the app's spans are in the dependencies table")
        for span in span_names(query):
            if not any(s == span or (span.endswith(" ") and s.startswith(span)) for s in SPAN_NAMES):
                errors.append(f"{name}: no span is named {span!r}")
        for key in re.findall(r'customDimensions\["([^"]+)"\]', query):
            if key not in ATTRIBUTES:
                errors.append(f"{name}: no span has the attribute {key!r}")
    return errors


def test_the_workbook_covers_what_users_ask() -> None:
    workbook = json.loads(WORKBOOK_JSON.read_text())
    assert workbook["version"] == "Notebook/1.0"
    assert set(queries(workbook)) == set(SECTIONS)
    found = queries(workbook)
    assert 'countif(outcome == "review")' in found["review-share"]
    assert 'customDimensions["error.code"]' in found["failures"]
    assert "percentile(duration, 95)" in found["latency"]
    assert 'customDimensions["run.id"]' in found["retrain-history"]
    for item in workbook["items"]:
        if item["type"] == 3:
            assert item["content"]["resourceType"] == "microsoft.insights/components"
            assert item["content"]["timeContextFromParameter"] == "TimeRange"
    assert not query_errors(workbook), query_errors(workbook)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'customDimensions["error.code"]',
            'customDimensions["error_code"]',
            "no span has the attribute 'error_code'",
        ),
        ('name == "classify image"', 'name == "classify"', "no span is named 'classify'"),
        (
            "dependencies\n| where name in",
            "requests\n| where name in",
            "the app's spans are in the dependencies",
        ),
    ],
)
def test_a_query_that_drifts_from_the_spans_is_caught(old: str, new: str, expected: str) -> None:
    text = WORKBOOK_JSON.read_text()
    encoded = json.dumps(old)[1:-1]
    assert encoded in text, f"mutation target {old!r} is not in workbook.json"
    mutated = json.loads(text.replace(encoded, json.dumps(new)[1:-1], 1))
    assert any(expected in e for e in query_errors(mutated)), query_errors(mutated)


def test_the_workbook_resource_shows_over_application_insights() -> None:
    path, workbook = only_resource("Microsoft.Insights/workbooks")
    assert path == INFRA / "app" / "workbook.bicep"
    assert workbook["api_version"] == "2023-06-01"
    config = workbook["config"]
    assert config["kind"] == "shared"
    properties = config["properties"]
    assert properties["category"] == "workbook"
    assert properties["serializedData"]["function"]["type"] == "load_text_content"
    assert "workbook.json" in json.dumps(properties["serializedData"])
    assert property_accessor(properties["sourceId"]) == ("appInsights", "id")
    existing = parse(path)["resources"]["appInsights"]
    assert existing["existing"] and existing["type"] == "Microsoft.Insights/components"


def test_main_deploys_the_workbook_on_the_apps_application_insights() -> None:
    module = parse(INFRA / "main.bicep")["modules"]["workbook"]
    assert module["detail"]["path"] == "app/workbook.bicep"
    assert "monitoring" in json.dumps(module["config"]["params"]["appInsightsName"])
