"""The settings the code reads, the settings Azure gets (infra/) and local.settings.json.example agree.

The code's settings are shared.settings.definitions.SETTINGS. In Azure the storage connection is
identity-based (PIPELINE_STORAGE__*), locally it is a connection string (PIPELINE_STORAGE); everything
else is the same name in both places. Names that only the Functions host or platform reads are listed
here, explicitly.
"""

from __future__ import annotations

import json

import pytest

from devstack.paths import PROJECT_ROOT
from shared.settings.declared import SETTINGS, STORAGE_CONNECTION, STORAGE_IDENTITY_SUFFIXES
from shared.settings.definitions import SETTING_NAMES
from tests.infra.bicep import app_settings, branches, function_app, literal

LOCAL_EXAMPLE = PROJECT_ROOT / "local.settings.json.example"

# Read by the Functions host or the platform, not by shared/settings/definitions.py.
HOST_ONLY = frozenset(
    {
        "AzureWebJobsStorage",  # local: connection string of the host's storage
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__queueServiceUri",
        "AzureWebJobsStorage__tableServiceUri",
        "FUNCTIONS_WORKER_RUNTIME",  # local only; Flex Consumption takes it from functionAppConfig.runtime
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "DEVHOST_FUNCTION_KEY",  # local only: devhost's function key; in Azure the host keeps its own keys
        "DEVHOST_BLOBS_EXTENSION_KEY",  # local only: devhost's blobs extension key for the Event Grid webhook
    }
)
# The identity-based form of the pipeline's storage connection, used in Azure.
STORAGE_IDENTITY = frozenset(f"{STORAGE_CONNECTION}__{suffix}" for suffix in STORAGE_IDENTITY_SUFFIXES)
CODE_READS = SETTING_NAMES | STORAGE_IDENTITY
IN_AZURE = (SETTING_NAMES - {STORAGE_CONNECTION}) | STORAGE_IDENTITY
IN_LOCAL_EXAMPLE = SETTING_NAMES


def difference(label: str, expected: frozenset[str] | set[str], actual: set[str]) -> list[str]:
    lines = []
    if missing := sorted(expected - actual):
        lines.append(f"{label} lacks: {', '.join(missing)}")
    if extra := sorted(actual - expected):
        lines.append(
            f"{label} has names the code does not read (and not declared host-only): {', '.join(extra)}"
        )
    return lines


def test_the_declared_sets_cover_what_the_code_reads() -> None:
    assert IN_AZURE | {STORAGE_CONNECTION} == CODE_READS
    assert not HOST_ONLY & CODE_READS, "a name cannot be both host-only and read by the code"


def test_infra_sets_every_setting_the_code_reads() -> None:
    names = set(app_settings()) - HOST_ONLY
    problems = difference("infra/ (function app appSettings)", IN_AZURE, names)
    assert not problems, "\n".join(problems) + "\nadd or remove them in infra/app/function.bicep"


def test_infra_literal_values_pass_the_code_validation() -> None:
    path, _ = function_app()
    settings = app_settings()
    invalid = []
    for setting in SETTINGS:
        value = literal(path, settings.get(setting.name))
        if value is None or (value == "" and setting.optional):
            continue
        try:
            setting.parse(value)
        except ValueError as exc:
            invalid.append(f"{setting.name}={value!r}: {exc}")
    assert not invalid, "infra/ sets values the app would refuse at start-up:\n" + "\n".join(invalid)


def test_secrets_in_azure_are_key_vault_references() -> None:
    settings = app_settings()
    for setting in SETTINGS:
        if setting.secret and setting.name in settings:
            # A secret is a Key Vault reference, or empty where a mode does without it (identity mode).
            for value in branches(settings[setting.name]):
                assert value == "" or (
                    isinstance(value, str) and value.startswith("@Microsoft.KeyVault(SecretUri=")
                ), f"{setting.name} is a secret: set it as a Key Vault reference, not a value"


def test_local_settings_example_lists_every_setting() -> None:
    if not LOCAL_EXAMPLE.is_file():
        pytest.fail(
            f"{LOCAL_EXAMPLE.name} is missing: it must list every setting of shared/settings/definitions.py"
        )
    values = json.loads(LOCAL_EXAMPLE.read_text())["Values"]
    problems = difference(LOCAL_EXAMPLE.name, IN_LOCAL_EXAMPLE, set(values) - HOST_ONLY)
    assert not problems, "\n".join(problems)
