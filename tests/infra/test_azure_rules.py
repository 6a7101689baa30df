"""Azure's service-side rules (tests/infra/azure_rules.py) hold for the project, and each catches a copy of
the project broken in its way: a deliberately wrong line that the Bicep types, checkov and the other tests
would let through to a failing `azd up`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devstack.paths import PROJECT_ROOT
from tests.infra.azure_rules import CUSTOM_VISION_REGIONS, FLEX_REGIONS, RULES, Project, Rule

# What the rules read; copied whole for each mutation.
TREE = ("infra", "scripts", "azure.yaml", "host.json", "function_app.py")

# rule -> (file, text, replacement, what the rule must then report)
MUTATIONS = {
    "flex-deprecated-site-properties": (
        "infra/app/function.bicep",
        "      minTlsVersion: '1.2'\n",
        "      minTlsVersion: '1.2'\n      ftpsState: 'Disabled'\n",
        "the function app sets ftpsState, which Flex Consumption refuses",
    ),
    "flex-deprecated-app-settings": (
        "infra/app/function.bicep",
        "      appSettings: [\n",
        "      appSettings: [\n        {\n          name: 'FUNCTIONS_WORKER_RUNTIME'\n"
        "          value: 'python'\n        }\n",
        "app setting FUNCTIONS_WORKER_RUNTIME is deprecated on Flex Consumption",
    ),
    "flex-instance-memory": (
        "infra/app/function.bicep",
        "param instanceMemoryMB int = 2048",
        "param instanceMemoryMB int = 1536",
        "instanceMemoryMB 1536 is not one of [512, 2048, 4096]",
    ),
    "flex-instance-count": (
        "infra/app/function.bicep",
        "@maxValue(1000)",
        "@maxValue(2000)",
        "maximumInstanceCount may be 1..2000; Flex Consumption allows 1..1000",
    ),
    "flex-python-version": (
        "infra/app/function.bicep",
        "version: '3.11'",
        "version: '3.9'",
        "is not Python 3.10, 3.11, 3.12",
    ),
    "regions": (
        "infra/main.bicep",
        "  'westus2'\n])",
        "  'westus2'\n  'westus3'\n])",
        "location allows westus3, which lacks Custom Vision or Flex Consumption",
    ),
    "custom-vision-one-free-account-per-kind": (
        "infra/main.bicep",
        "param customVisionSku string = 'S0'",
        "param customVisionSku string = 'F0'",
        "customVisionSku defaults to F0",
    ),
    "blob-trigger-on-flex": (
        "function_app.py",
        "func.BlobSource.EVENT_GRID",
        "func.BlobSource.LOGS_AND_CONTAINER_SCAN",
        "uses source func.BlobSource.LOGS_AND_CONTAINER_SCAN",
    ),
    "identity-blob-trigger-connection": (
        "infra/app/function.bicep",
        "name: 'PIPELINE_STORAGE__queueServiceUri'",
        "name: 'PIPELINE_STORAGE__queueUri'",
        "app setting PIPELINE_STORAGE__queueServiceUri is missing",
    ),
    "key-vault-reference-identity": (
        "infra/app/function.bicep",
        "    keyVaultReferenceIdentity: identityId\n",
        "",
        "the app has only a user-assigned identity but no keyVaultReferenceIdentity",
    ),
    "container-apps-allocation": (
        "infra/app/localvision.bicep",
        "param memory string = '2Gi'",
        "param memory string = '3Gi'",
        "memory 3Gi with cpu 1.0; Consumption needs 2Gi",
    ),
}
# More than one way to break a rule.
EXTRA_MUTATIONS = [
    (
        "blob-trigger-on-flex",
        ("host.json", '"[4.*, 5.0.0)"', '"[3.*, 4.0.0)"', "extension bundle"),
    ),
    (
        "custom-vision-one-free-account-per-kind",
        (
            "scripts/preprovision.py",
            '"list-deleted"',
            '"list-purged"',
            "does not look for soft-deleted accounts",
        ),
    ),
]


def copy_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name in TREE:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    return root


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_the_project_keeps_the_rule(rule: Rule) -> None:
    problems = rule.check(Project(PROJECT_ROOT))
    assert not problems, f"{rule.name}:\n" + "\n".join(problems)


def test_every_rule_has_a_mutation() -> None:
    assert set(MUTATIONS) == {rule.name for rule in RULES}


@pytest.mark.parametrize(
    ("rule", "mutation"),
    [*MUTATIONS.items(), *EXTRA_MUTATIONS],
    ids=[*MUTATIONS, *(f"{name}-2" for name, _ in EXTRA_MUTATIONS)],
)
def test_a_copy_broken_in_the_rules_way_fails_it(tmp_path: Path, rule: str, mutation: tuple) -> None:
    file, old, new, expected = mutation
    root = copy_project(tmp_path)
    text = (root / file).read_text()
    assert text.count(old) == 1, f"mutation target {old!r} is not unique in {file}"
    (root / file).write_text(text.replace(old, new))
    check = next(r for r in RULES if r.name == rule)
    problems = check.check(Project(root))
    assert any(expected in problem for problem in problems), f"expected {expected!r} among {problems}"


def test_the_region_lists_overlap_as_the_bicep_assumes() -> None:
    # Every Custom Vision region offers Flex Consumption: the intersection is Custom Vision's list.
    assert CUSTOM_VISION_REGIONS <= FLEX_REGIONS
    assert len(CUSTOM_VISION_REGIONS) == 12
