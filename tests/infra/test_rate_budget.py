"""Rate budget: the prediction tier decides the app's scale-out and its per-instance prediction rates.

For each SKU main.bicep allows, the values it would deploy (Flex Consumption maximumInstanceCount and the
PREDICTION_MAX_TPS and QUICKTEST_MAX_TPS app settings) are worked out from the Bicep and the table it loads.
Flex Consumption applies maximumInstanceCount to each scale group, so the blob trigger's instances and the
HTTP functions' instances (the quick test) may both reach it: instances x (pipeline limit + quick-test
limit) must stay within the tier's account-wide rate. Tier rates from the Custom Vision limits
(https://learn.microsoft.com/azure/ai-services/custom-vision-service/limits-and-quotas): F0 2 predictions a
second; S0 10, or 20 on the /nostore endpoints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devstack.paths import PROJECT_ROOT
from tests.infra.bicep import INFRA, app_settings, function_app, parse

TIER_RATE = {"F0": 2.0, "S0": 10.0}
S0_NOSTORE_RATE = 20.0
PREDICTION_CALL = re.compile(r"\.(classify|detect)_image(_url)?(_with_no_store)?\(")


def evaluate(node: Any, names: dict[str, Any], base: Path) -> Any:
    """The value of the few Bicep expression forms the rate budget uses (pycep nodes)."""
    if isinstance(node, str):
        return names.get(node, node)
    if "function" in node:
        function = node["function"]
        if function["type"] == "load_json_content":
            return json.loads((base / function["parameters"]["file_path"]).read_text())
        if function["type"] == "string":
            value = evaluate(function["parameters"]["value_to_convert"], names, base)
            return value if isinstance(value, str) else json.dumps(value)
    operator = node["operator"]
    operands = operator["operands"]
    if operator["type"] == "index_accessor":  # a[b]: b is an expression
        return evaluate(operands["operand_1"], names, base)[evaluate(operands["operand_2"], names, base)]
    if operator["type"] == "property_accessor":  # a.b: b is a name
        return evaluate(operands["operand_1"], names, base)[operands["operand_2"]]
    raise AssertionError(f"unexpected expression in the rate budget: {node}")


def deployed(sku: str) -> tuple[int, float, float]:
    """(maximumInstanceCount, PREDICTION_MAX_TPS, QUICKTEST_MAX_TPS) main.bicep deploys for this SKU."""
    main = parse(INFRA / "main.bicep")
    names: dict[str, Any] = {"customVisionSku": sku}
    for name, variable in main["variables"].items():  # in declaration order
        if name.startswith("rateBudget"):
            names[name] = evaluate(variable["value"], names, INFRA)
    params = main["modules"]["functionApp"]["config"]["params"]
    instances = evaluate(params["maximumInstanceCount"], names, INFRA)
    tps = evaluate(params["predictionMaxTps"], names, INFRA)
    quick = evaluate(params["quickTestMaxTps"], names, INFRA)
    assert isinstance(instances, int) and isinstance(tps, str) and isinstance(quick, str), (instances, tps)
    return instances, float(tps), float(quick)


def tier_rate(sku: str) -> float:
    """The account's rate for the endpoints the pipeline calls: /nostore only if every call uses it."""
    calls = [
        m
        for path in (PROJECT_ROOT / "shared").rglob("*.py")
        for m in PREDICTION_CALL.finditer(path.read_text())
    ]
    assert calls, "no prediction call found in shared/"
    if sku == "S0" and all(m.group(3) for m in calls):
        return S0_NOSTORE_RATE
    return TIER_RATE[sku]


def test_the_budget_covers_every_sku_main_allows() -> None:
    decorators = parse(INFRA / "main.bicep")["parameters"]["customVisionSku"]["decorators"]
    allowed = next(d["argument"] for d in decorators if d["type"] == "allowed")
    assert set(allowed) == set(TIER_RATE)
    assert set(json.loads((INFRA / "rate-budget.json").read_text())) == set(TIER_RATE)


@pytest.mark.parametrize("sku", sorted(TIER_RATE))
def test_instances_times_the_per_instance_limits_fit_the_tier(sku: str) -> None:
    instances, tps, quick = deployed(sku)
    rate = tier_rate(sku)
    assert 1 <= instances <= 1000, "Flex Consumption scales to 1..1000 instances"
    assert tps > 0 and quick > 0, "0 would switch a client-side limit off"
    # Both scale groups at their limits at once: the worst case still leaves 1 % for the service's jitter.
    worst = instances * (tps + quick)
    assert worst <= 0.99 * rate + 1e-9, (
        f"{sku}: {instances} instances x ({tps} + {quick})/s exceed 99 % of {rate}/s"
    )
    # The pipeline alone keeps what the tier benchmark's bar asks (95 % of the rate) and a margin under it.
    assert 0.95 * rate <= instances * tps <= 0.98 * rate, f"{sku}: {instances} x {tps}/s against {rate}/s"


def test_s0_uses_the_nostore_rate_because_the_pipeline_calls_nostore() -> None:
    assert tier_rate("S0") == S0_NOSTORE_RATE
    instances, tps, _ = deployed("S0")
    assert instances * tps > TIER_RATE["S0"], "the /nostore budget is used"


def test_the_function_app_applies_both_values() -> None:
    _, app = function_app()
    scale = app["config"]["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"
    assert app_settings()["PREDICTION_MAX_TPS"] == "predictionMaxTps"
    assert app_settings()["QUICKTEST_MAX_TPS"] == "quickTestMaxTps"
    declared = parse(INFRA / "app" / "function.bicep")["parameters"]["maximumInstanceCount"]
    assert declared.get("default") is None, "a default would let a caller bypass the rate budget"


@pytest.mark.parametrize("sku", sorted(TIER_RATE))
def test_deploy_doc_states_the_budget(sku: str) -> None:
    instances, tps, quick = deployed(sku)
    doc = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    section = doc.split("## Rate budget", 1)[1].split("\n## ", 1)[0]
    row = next((line for line in section.splitlines() if line.startswith(f"| `{sku}`")), None)
    assert row, f"docs/deploy.md's rate budget has no row for {sku}"
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1:4] == [str(instances), f"{tps:g}", f"{quick:g}"], (
        f"docs/deploy.md says {cells}, infra deploys {instances}, {tps:g}, {quick:g}"
    )
