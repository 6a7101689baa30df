"""Azure's service-side rules: what the services refuse although the Bicep types accept it.

Each rule names the documentation it comes from (in the comment above it) and checks a project tree (infra/,
the hooks, azure.yaml, host.json, function_app.py) read offline. tests/infra/test_azure_rules.py runs every
rule on the project and on a copy broken in exactly that rule's way, which the rule must catch.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.infra.bicep import parse

# Flex Consumption: site properties it deprecated and refuses (ARM answers BadRequest; ftpsState: extended
# code 51021). Source: https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
# and https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations
FLEX_DEPRECATED_PROPERTIES = frozenset(
    {
        "ftpsState",
        "use32BitWorkerProcess",
        "isReserved",
        "IsXenon",
        "windowsFxVersion",
        "alwaysOn",
        "preWarmedInstanceCount",
        "functionAppScaleLimit",
        "containerSize",
        "javaVersion",
        "powerShellVersion",
        "netFrameworkVersion",
        "linuxFxVersion",
    }
)
# Flex Consumption: app settings it deprecated (replaced by functionAppConfig, or not supported).
# Source: https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
FLEX_DEPRECATED_SETTINGS = frozenset(
    {
        "WEBSITE_NODE_DEFAULT_VERSION",
        "FUNCTIONS_EXTENSION_VERSION",
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_WORKER_RUNTIME_VERSION",
        "FUNCTIONS_MAX_HTTP_CONCURRENCY",
        "FUNCTIONS_WORKER_PROCESS_COUNT",
        "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "WEBSITE_CONTENTSHARE",
    }
)
# Flex Consumption instance sizes and scale-out bound, and its Python versions.
# Source: https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-memory and
# #supported-language-stack-versions; https://learn.microsoft.com/azure/azure-functions/event-driven-scaling#flex-consumption-plan
FLEX_INSTANCE_MEMORY_MB = frozenset({512, 2048, 4096})
FLEX_MAX_INSTANCES = range(1, 1001)
FLEX_PYTHON_VERSIONS = frozenset({"3.10", "3.11", "3.12"})
# Regions with Flex Consumption: the @allowed list of Microsoft's Flex Consumption azd templates
# (Azure-Samples/functions-quickstart-*-azd, infra/main.bicep); check with `az functionapp
# list-flexconsumption-locations`.
FLEX_REGIONS = frozenset(
    [
        "australiaeast",
        "australiasoutheast",
        "brazilsouth",
        "canadacentral",
        "centralindia",
        "centralus",
        "eastasia",
        "eastus",
        "eastus2",
        "francecentral",
        "germanywestcentral",
        "italynorth",
        "japaneast",
        "koreacentral",
        "northcentralus",
        "northeurope",
        "norwayeast",
        "southafricanorth",
        "southcentralus",
        "southeastasia",
        "southindia",
        "spaincentral",
        "swedencentral",
        "uaenorth",
        "uksouth",
        "ukwest",
        "westcentralus",
        "westeurope",
        "westus",
        "westus2",
        "westus3",
    ]
)
# Regions with Custom Vision training and prediction: Azure products by region ("Azure AI Custom Vision",
# https://azure.microsoft.com/explore/global-infrastructure/products-by-region/); check with `az
# cognitiveservices account list-skus --kind CustomVision.Training --location <region>`.
CUSTOM_VISION_REGIONS = frozenset(
    [
        "australiaeast",
        "centralindia",
        "eastus",
        "eastus2",
        "japaneast",
        "northcentralus",
        "northeurope",
        "southcentralus",
        "southeastasia",
        "uksouth",
        "westeurope",
        "westus2",
    ]
)
# One free (F0) account per kind per subscription (CanNotCreateMultipleFreeAccounts), soft-deleted ones
# included until purged. Source: https://learn.microsoft.com/azure/ai-services/custom-vision-service/limits-and-quotas
# and https://learn.microsoft.com/azure/ai-services/recover-purge-resources
CUSTOM_VISION_KINDS = ("CustomVision.Training", "CustomVision.Prediction")
# The blob trigger on Flex Consumption: only with the Event Grid source, and (non-C# apps) extension bundle
# 4.x. Source: https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations and
# https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-blob-trigger
EXTENSION_BUNDLE = ("Microsoft.Azure.Functions.ExtensionBundle", 4)
# Identity-based connections of a blob trigger need the queue service too (it keeps receipts and poison
# messages in queues). Source: https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-blob-trigger#identity-based-connections
IDENTITY_CONNECTION_SUFFIXES = ("blobServiceUri", "queueServiceUri", "credential", "clientId")
# Container Apps on the Consumption plan: CPU from 0.25 to 2 vCPU in 0.25 steps (4 with workload profiles),
# memory exactly 2 GiB per vCPU. Source: https://learn.microsoft.com/azure/container-apps/containers#allocations
CONTAINER_CPU_STEP, CONTAINER_MAX_CPU, GIB_PER_CPU = 0.25, 2.0, 2.0
# Key Vault references resolve with the system-assigned identity unless keyVaultReferenceIdentity names the
# user-assigned one. Source: https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#access-vaults-with-a-user-assigned-identity


@dataclass(frozen=True)
class Project:
    """A project tree read offline: the real one or a mutated copy."""

    root: Path

    def bicep(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for path in sorted((self.root / "infra").rglob("*.bicep")):
            yield path, parse(path)

    def resources(self, resource_type: str) -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
        """(file, its tree, resource body) of each declared resource of one type."""
        for path, tree in self.bicep():
            for resource in tree.get("resources", {}).values():
                if resource["type"] == resource_type and not resource.get("existing"):
                    config = resource["config"]
                    while set(config) in ({"condition", "config"}, {"loop_type", "condition", "config"}):
                        config = config["config"]
                    yield path, tree, config

    def function_app(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(file tree, body) of the one function app."""
        apps = [
            (t, c) for _, t, c in self.resources("Microsoft.Web/sites") if "functionapp" in str(c.get("kind"))
        ]
        assert len(apps) == 1, f"expected one function app, found {len(apps)}"
        return apps[0]

    def main(self) -> dict[str, Any]:
        return parse(self.root / "infra" / "main.bicep")


def decorators(parameter: dict[str, Any]) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in parameter.get("decorators", [])}


def keys(node: Any) -> Iterator[str]:
    """Every property name in a pycep body, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from keys(item)


def flex_deprecated_properties(project: Project) -> list[str]:
    _, app = project.function_app()
    return [
        f"the function app sets {key}, which Flex Consumption refuses"
        for key in keys(app)
        if key in FLEX_DEPRECATED_PROPERTIES
    ]


def flex_deprecated_settings(project: Project) -> list[str]:
    _, app = project.function_app()
    names = [entry["name"] for entry in app["properties"]["siteConfig"]["appSettings"]]
    return [
        f"app setting {name} is deprecated on Flex Consumption"
        for name in names
        if name in FLEX_DEPRECATED_SETTINGS
    ]


def flex_instance_memory(project: Project) -> list[str]:
    tree, app = project.function_app()
    value = app["properties"]["functionAppConfig"]["scaleAndConcurrency"]["instanceMemoryMB"]
    parameter = tree["parameters"].get(value) if isinstance(value, str) else None
    choices = (
        ([parameter.get("default")] + (decorators(parameter).get("allowed") or [])) if parameter else [value]
    )
    return [
        f"instanceMemoryMB {size} is not one of {sorted(FLEX_INSTANCE_MEMORY_MB)}"
        for size in choices
        if size is not None and size not in FLEX_INSTANCE_MEMORY_MB
    ]


def flex_instance_count(project: Project) -> list[str]:
    tree, app = project.function_app()
    value = app["properties"]["functionAppConfig"]["scaleAndConcurrency"]["maximumInstanceCount"]
    bounds = decorators(tree["parameters"][value])
    low, high = bounds.get("min_value"), bounds.get("max_value")
    problems = (
        []
        if low in FLEX_MAX_INSTANCES and high in FLEX_MAX_INSTANCES
        else [f"maximumInstanceCount may be {low}..{high}; Flex Consumption allows 1..1000"]
    )
    budgets = json.loads((project.root / "infra" / "rate-budget.json").read_text())
    for sku, budget in budgets.items():
        if isinstance(budget, dict) and budget.get("maximumInstanceCount") not in FLEX_MAX_INSTANCES:
            problems.append(f"rate-budget.json {sku}: maximumInstanceCount {budget['maximumInstanceCount']}")
    return problems


def flex_python_version(project: Project) -> list[str]:
    _, app = project.function_app()
    runtime = app["properties"]["functionAppConfig"]["runtime"]
    if runtime.get("name") != "python" or runtime.get("version") not in FLEX_PYTHON_VERSIONS:
        return [f"runtime {runtime} is not Python {', '.join(sorted(FLEX_PYTHON_VERSIONS))}"]
    return []


def regions(project: Project) -> list[str]:
    allowed = set(decorators(project.main()["parameters"]["location"]).get("allowed") or [])
    expected = CUSTOM_VISION_REGIONS & FLEX_REGIONS
    problems = [
        f"location allows {r}, which lacks Custom Vision or Flex Consumption"
        for r in sorted(allowed - expected)
    ]
    return problems + [f"location does not offer {r}, which has both" for r in sorted(expected - allowed)]


def one_free_account_per_kind(project: Project) -> list[str]:
    problems = []
    sku = project.main()["parameters"]["customVisionSku"]
    if sku.get("default") == "F0":
        problems.append("customVisionSku defaults to F0: a second free account of a kind fails to provision")
    parameters = json.loads((project.root / "infra" / "main.parameters.json").read_text())["parameters"]
    if "=F0}" in parameters["customVisionSku"]["value"]:
        problems.append("main.parameters.json defaults CUSTOM_VISION_SKU to F0")
    hooks = yaml.safe_load((project.root / "azure.yaml").read_text()).get("hooks", {})
    for platform in ("posix", "windows"):
        run = hooks.get("preprovision", {}).get(platform, {}).get("run", "")
        if not run or "preprovision" not in (project.root / run).read_text():
            problems.append(f"no preprovision hook ({platform}) checks for existing free accounts")
    module = (project.root / "scripts" / "preprovision.py").read_text()
    problems += [
        f"preprovision.py does not look for {kind}" for kind in CUSTOM_VISION_KINDS if kind not in module
    ]
    if "list-deleted" not in module:
        problems.append("preprovision.py does not look for soft-deleted accounts")
    return problems


def _blob_trigger_sources(source: str) -> Iterator[tuple[str, str]]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "blob_trigger":
            arguments = {k.arg: ast.unparse(k.value) for k in node.keywords}
            yield arguments.get("path", "?"), arguments.get("source", "(default: logs and container scan)")


def blob_trigger_on_flex(project: Project) -> list[str]:
    found = list(_blob_trigger_sources((project.root / "function_app.py").read_text()))
    problems = [
        f"blob trigger on {path} uses source {source}"
        for path, source in found
        if source != "func.BlobSource.EVENT_GRID"
    ]
    host = json.loads((project.root / "host.json").read_text())
    bundle = host.get("extensionBundle", {})
    match = re.fullmatch(r"\[(\d+)\.[\d*]+(?:\.[\d*]+)?,\s*(\d+)\.0\.0\)", bundle.get("version", ""))
    expected_id, major = EXTENSION_BUNDLE
    if bundle.get("id") != expected_id or not match or (int(match[1]), int(match[2])) != (major, major + 1):
        problems.append(
            f"host.json extension bundle {bundle} is not {expected_id} [{major}.*, {major + 1}.0.0)"
        )
    return problems


def identity_blob_trigger_connection(project: Project) -> list[str]:
    _, app = project.function_app()
    names = {entry["name"] for entry in app["properties"]["siteConfig"]["appSettings"]}
    return [
        f"app setting PIPELINE_STORAGE__{suffix} is missing"
        for suffix in IDENTITY_CONNECTION_SUFFIXES
        if f"PIPELINE_STORAGE__{suffix}" not in names
    ]


def key_vault_reference_identity(project: Project) -> list[str]:
    _, app = project.function_app()
    user_assigned = app.get("identity", {}).get("type") == "UserAssigned"
    if user_assigned and not app["properties"].get("keyVaultReferenceIdentity"):
        return ["the app has only a user-assigned identity but no keyVaultReferenceIdentity"]
    return []


def container_allocation(project: Project) -> list[str]:
    problems = []
    for path, tree, app in project.resources("Microsoft.App/containerApps"):
        parameters = tree.get("parameters", {})
        for container in app["properties"]["template"]["containers"]:
            resources = container["resources"]
            cpu_node = resources["cpu"]
            cpu_text = cpu_node["function"]["parameters"]["arg_1"] if isinstance(cpu_node, dict) else cpu_node
            cpu_text = parameters.get(cpu_text, {}).get("default", cpu_text)
            memory = parameters.get(resources["memory"], {}).get("default", resources["memory"])
            cpu = float(cpu_text)
            steps = cpu / CONTAINER_CPU_STEP
            if not (0 < cpu <= CONTAINER_MAX_CPU and steps == int(steps)):
                problems.append(f"{path.name}: cpu {cpu} is not 0.25..2 in steps of 0.25")
            if memory != f"{cpu * GIB_PER_CPU:g}Gi":
                problems.append(
                    f"{path.name}: memory {memory} with cpu {cpu}; Consumption needs {cpu * 2:g}Gi"
                )
    if not problems and not list(project.resources("Microsoft.App/containerApps")):
        problems.append("no container app found")
    return problems


@dataclass(frozen=True)
class Rule:
    name: str
    check: Callable[[Project], list[str]]


RULES = (
    Rule("flex-deprecated-site-properties", flex_deprecated_properties),
    Rule("flex-deprecated-app-settings", flex_deprecated_settings),
    Rule("flex-instance-memory", flex_instance_memory),
    Rule("flex-instance-count", flex_instance_count),
    Rule("flex-python-version", flex_python_version),
    Rule("regions", regions),
    Rule("custom-vision-one-free-account-per-kind", one_free_account_per_kind),
    Rule("blob-trigger-on-flex", blob_trigger_on_flex),
    Rule("identity-blob-trigger-connection", identity_blob_trigger_connection),
    Rule("key-vault-reference-identity", key_vault_reference_identity),
    Rule("container-apps-allocation", container_allocation),
)
