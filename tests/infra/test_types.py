"""infra/, the hook's Event Grid subscription and azure.yaml checked against the published types, offline.

The Bicep CLI cannot run here, so tests/infra/bicep_types.py does the part of its type check that catches
real deployment errors (see that module). The definitions are Microsoft's generated Bicep types and azd's
JSON schema, copied into tests/data/specs (sources and licences in its README).
Each check is also run on a mutated copy (a misspelt property at depth, a value outside a closed enum, a
read-only property set) that it must reject.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.paths import PROJECT_ROOT
from tests.infra.bicep import INFRA, parse
from tests.infra.bicep_types import SPECS, Checker, body_type, check_body
from tests.infra.scripts import load_script

AZD_SCHEMA = SPECS / "azd" / "azure.yaml.json"
EVENT_SUBSCRIPTION = "Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15"
BUILT_IN = {"Microsoft.Resources/resourceGroups"}  # part of Bicep itself, no types.json
# No types.json in tests/data/specs for these (tests/infra/test_workbook.py checks the workbook's body).
UNTYPED = {"Microsoft.Insights/workbooks@2023-06-01"}


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    """The body of a resource, inside a condition (= if ...) or a loop ([for ...]) if there is one."""
    config = resource["config"]
    while set(config) in ({"condition", "config"}, {"loop_type", "condition", "config"}):
        config = config["config"]
    return config


def infra_errors(infra: Path) -> list[str]:
    """Every type error in the resource bodies of the .bicep files under ``infra``."""
    checked, errors = 0, []
    for path in sorted(infra.rglob("*.bicep")):
        tree = parse(path)
        loop_items = {
            r["config"]["loop_type"]["detail"]["item_name"]
            for r in tree.get("resources", {}).values()
            if "loop_type" in r["config"]
        }
        symbols = frozenset(
            {*tree.get("parameters", {}), *tree.get("variables", {}), *tree.get("resources", {})}
            | {*tree.get("modules", {}), *loop_items}
        )
        allowed = {
            name: decorator["argument"]
            for name, param in tree.get("parameters", {}).items()
            for decorator in param.get("decorators", [])
            if decorator["type"] == "allowed"
        }
        checker = Checker(symbols=symbols, allowed=allowed)
        for symbol, resource in tree.get("resources", {}).items():
            typed = f"{resource['type']}@{resource['api_version']}" not in UNTYPED
            if resource.get("existing") or resource["type"] in BUILT_IN or not typed:
                continue
            label = f"{path.relative_to(infra)}:{symbol}"
            try:
                check_body(f"{resource['type']}@{resource['api_version']}", _body(resource), checker, label)
            except LookupError as missing:
                errors.append(f"{label}: {missing} (copy that API version's types.json there)")
            checked += 1
        errors += checker.errors
    assert checked, f"no resource found under {infra}"
    return errors


def hook_subscription_body() -> dict[str, Any]:
    """The JSON body scripts/postdeploy.py PUTs, with placeholder strings for the deployment's values."""
    return load_script("postdeploy").subscription_body("x", "x", "x", "x")


def subscription_errors(body: dict[str, Any]) -> list[str]:
    checker = Checker()
    checker.check(body, body_type(EVENT_SUBSCRIPTION), "eventSubscription")
    return checker.errors


def azure_yaml_errors(document: dict[str, Any]) -> list[str]:
    """azd's JSON schema (draft 2019-09) errors for an azure.yaml document.

    jsonschema is pinned in requirements-dev.txt; where this .venv predates that pin, the same validation
    runs in .venv-checkov, which has it (checkov depends on it). The schema's few remote references (the
    schemas of azd extensions' AI hosts, which this project does not use) resolve to an empty schema instead
    of being fetched: the check stays offline.
    """
    script = (
        "import json, sys\n"
        "from jsonschema import Draft201909Validator\n"
        "from referencing import Registry, Resource\n"
        "from referencing.jsonschema import DRAFT201909\n"
        "def empty(uri):\n"
        "    return Resource.from_contents({}, default_specification=DRAFT201909)\n"
        "offline = Registry(retrieve=empty)\n"
        "schema, document = json.load(sys.stdin)\n"
        "errors = Draft201909Validator(schema, registry=offline).iter_errors(document)\n"
        "print(json.dumps(sorted(f\"{'/'.join(map(str, e.absolute_path))}: {e.message}\" for e in errors)))\n"
    )
    payload = json.dumps([json.loads(AZD_SCHEMA.read_text()), document])
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        python = PROJECT_ROOT / ".venv-checkov" / "bin" / "python"
        assert python.exists(), "jsonschema is missing: run `make install` (requirements-dev.txt pins it)"
    else:
        python = Path(sys.executable)
    done = subprocess.run(
        [str(python), "-c", script], input=payload, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"validating azure.yaml failed:\n{done.stderr}"
    return json.loads(done.stdout)


# --- the project as it is ---------------------------------------------------------------------------------


def test_every_resource_body_fits_its_type() -> None:
    errors = infra_errors(INFRA)
    assert not errors, "infra/ does not fit the Bicep types:\n" + "\n".join(errors)


def test_the_hooks_event_grid_subscription_fits_its_type() -> None:
    errors = subscription_errors(hook_subscription_body())
    assert not errors, "postdeploy.py's subscription body:\n" + "\n".join(errors)


def test_azure_yaml_fits_azds_schema() -> None:
    errors = azure_yaml_errors(yaml.safe_load((PROJECT_ROOT / "azure.yaml").read_text()))
    assert not errors, "azure.yaml:\n" + "\n".join(errors)


# --- mutated copies must fail -----------------------------------------------------------------------------

INFRA_MUTATIONS = [
    pytest.param(
        "app/function.bicep",
        "maximumInstanceCount: maximumInstanceCount",
        "maximumInstanceCont: maximumInstanceCount",
        "app.properties.functionAppConfig.scaleAndConcurrency.maximumInstanceCont: no such property",
        id="typo-at-depth",
    ),
    pytest.param(
        "core/storage.bicep",
        "accessTier: 'Hot'",
        "accessTier: 'Hott'",
        "storage.bicep:storage.properties.accessTier: 'Hott' is not one of",
        id="bad-enum-value",
    ),
    pytest.param(
        "core/storage.bicep",
        "    accessTier: 'Hot'\n",
        "    accessTier: 'Hot'\n    primaryEndpoints: {}\n",
        "storage.bicep:storage.properties.primaryEndpoints: read-only property",
        id="read-only-set",
    ),
    pytest.param(
        "app/function.bicep",
        "httpsOnly: true",
        "HttpsOnly: true",
        "properties.HttpsOnly: property name is spelled 'httpsOnly'",
        id="wrong-case",
    ),
    pytest.param(
        "app/function.bicep",
        "http20Enabled: true",
        "http20Enabled: 'yes'",
        "siteConfig.http20Enabled: expected a boolean, got 'yes'",
        id="wrong-kind",
    ),
    pytest.param(
        "core/keyvault.bicep",
        "      family: 'A'\n",
        "      family: 'A'\n      tier: 'standard'\n",
        "keyvault.bicep:vault.properties.sku.tier: no such property",
        id="unknown-in-nested-object",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), INFRA_MUTATIONS)
def test_a_mutated_infra_copy_fails(tmp_path: Path, file: str, old: str, new: str, expected: str) -> None:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    text = (copy / file).read_text()
    assert text.count(old) == 1, f"mutation target {old!r} is not unique in {file}"
    (copy / file).write_text(text.replace(old, new))
    errors = infra_errors(copy)
    assert any(expected in error for error in errors), f"expected {expected!r} among {errors}"


SUBSCRIPTION_MUTATIONS = [
    pytest.param(
        ("properties", "deadLetterWithResourceIdentity", "deadLetterDestination", "properties"),
        "containerName",
        "deadLetterDestination.properties.containerName: no such property",
        id="typo-at-depth",
    ),
    pytest.param(
        ("properties", "destination"),
        "endpointType=Webhook",
        "destination.endpointType: 'Webhook' is not one of",
        id="bad-discriminator",
    ),
    pytest.param(
        ("properties", "deadLetterWithResourceIdentity", "deadLetterDestination"),
        "endpointType=StorageBlobs",
        "deadLetterDestination.endpointType: 'StorageBlobs' is not one of",
        id="bad-enum-value",
    ),
    pytest.param(
        ("properties",), "provisioningState=Succeeded", "provisioningState: read-only", id="read-only"
    ),
]


@pytest.mark.parametrize(("where", "change", "expected"), SUBSCRIPTION_MUTATIONS)
def test_a_mutated_subscription_body_fails(where: tuple[str, ...], change: str, expected: str) -> None:
    body = hook_subscription_body()
    target = body
    for key in where:
        target = target[key]
    if "=" in change:
        key, value = change.split("=")
        target[key] = value
    else:
        target[change] = target.pop("blobContainerName")
    errors = subscription_errors(body)
    assert any(expected in error for error in errors), f"expected {expected!r} among {errors}"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["services"]["pipeline"].pop("host"), "services/pipeline: 'host' is a required property"),
        (lambda d: d["requiredVersions"].update(azdd=">= 1.18.0"), "requiredVersions: Additional properties"),
        (lambda d: d["hooks"]["postdeploy"]["posix"].update(shell="bash"), "hooks/postdeploy"),
        (lambda d: d["hooks"]["postdeploy"]["posix"].update(continueOnErrors=False), "hooks/postdeploy"),
    ],
    ids=["missing-host", "unknown-key-at-depth", "bad-shell", "hook-typo"],
)
def test_a_mutated_azure_yaml_fails(change: Any, expected: str) -> None:
    document = yaml.safe_load((PROJECT_ROOT / "azure.yaml").read_text())
    change(document)
    errors = azure_yaml_errors(document)
    assert any(expected in error for error in errors), f"expected {expected!r} among {errors}"
