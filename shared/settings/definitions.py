"""Every setting the pipeline reads, validated in one place.

Settings come from the environment: app settings in Azure, ``local.settings.json`` ``Values`` locally
(the Functions host and devhost both export them). ``load_settings()`` fails fast with a
``SettingsError`` that names each wrong or missing setting (and each unresolved Key Vault reference);
nothing else in ``shared/`` reads ``os.environ``. The result is one frozen, typed ``Settings`` object:
each setting is the attribute of its name in lower case (``settings.images_container``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from shared.settings.declared import (
    SETTINGS,
    STORAGE_CONNECTION,
    STORAGE_IDENTITY_SUFFIXES,
    Setting,
)


class SettingsError(ValueError):
    """One or more settings are missing or malformed; the message names each one."""


SETTING_NAMES: frozenset[str] = frozenset(s.name for s in SETTINGS)
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


@dataclass(frozen=True)
class Settings:
    """Parsed settings: one attribute per setting (its name in lower case); None when an optional one is
    unset. The storage connection is a connection string or the identity-based group."""

    storage_connection_string: str | None
    storage_identity: tuple[tuple[str, str], ...]
    images_container: str
    results_container: str
    review_container: str
    training_container: str
    negative_folder: str
    pipeline_container: str
    retrain_queue: str
    customvision_auth: str
    azure_client_id: str | None
    customvision_training_endpoint: str
    customvision_training_key: str | None  # None when CUSTOMVISION_AUTH=identity
    customvision_prediction_endpoint: str
    customvision_prediction_key: str | None
    customvision_prediction_resource_id: str
    customvision_project_id: str | None
    customvision_project_name: str
    customvision_classification_type: str
    customvision_domain: str
    customvision_timeout_seconds: float
    published_name: str
    classifier_mode: str
    prediction_threshold: float
    review_threshold: float
    prediction_max_tps: float
    quicktest_max_tps: float
    transient_retry_seconds: float
    quicktest_max_bytes: int
    quicktest_url_timeout_seconds: float
    retrain_schedule: str
    training_type: str
    training_budget_hours: int
    retrain_poll_seconds: int
    gate_min_precision: float
    gate_min_recall: float
    gate_min_ap: float
    gate_tolerance: float
    retrain_stale_minutes: int
    keep_iterations: int

    def __repr__(self) -> str:  # never the keys, even in a traceback
        return f"Settings({self.redacted()!r})"

    @property
    def identity(self) -> dict[str, str]:
        """The identity-based connection's values by suffix (blobServiceUri, queueServiceUri, ...)."""
        return dict(self.storage_identity)

    def redacted(self) -> dict[str, Any]:
        """The settings as they may be logged: secrets replaced."""
        out: dict[str, Any] = {}
        for setting in SETTINGS:
            value = self._value(setting)
            out[setting.name] = "***" if setting.secret and value else value
        return out

    def _value(self, setting: Setting) -> Any:
        return (
            self.storage_connection_string
            if setting.name == STORAGE_CONNECTION
            else getattr(self, setting.attr)
        )


def _unresolved(name: str) -> str:
    return (
        f"{name} still reads {KEY_VAULT_REFERENCE}...): the Key Vault reference was not resolved; check that "
        "the function app's managed identity is enabled and has the Key Vault Secrets User role on the vault "
        "(and that the secret URI is right)"
    )


def _needed(setting: Setting) -> str:
    if setting.only_when is None:
        return setting.description
    name, value = setting.only_when
    return f"{setting.description} Set it, or sign in without it by changing {name} (now {value})."


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming all that are wrong."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        if setting.only_when and values.get(setting.only_when[0]) != setting.only_when[1]:
            values[setting.name] = None  # not used in this mode: not read, so not required
            continue
        raw = env.get(setting.name, "").strip()
        if raw.startswith(KEY_VAULT_REFERENCE):
            problems.append(_unresolved(setting.name))
            continue
        if not raw:
            if setting.default is None:
                values[setting.name] = None
                if not setting.optional:
                    problems.append(f"{setting.name} is missing: {_needed(setting)}")
                continue
            raw = setting.default
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if setting.secret else repr(raw)
            problems.append(f"{setting.name}={shown} is not valid: {exc}")

    identity: dict[str, str] = {}
    for suffix in STORAGE_IDENTITY_SUFFIXES:
        name = f"{STORAGE_CONNECTION}__{suffix}"
        raw = env.get(name, "").strip()
        if raw.startswith(KEY_VAULT_REFERENCE):
            problems.append(_unresolved(name))
        elif raw:
            identity[suffix] = raw
    connection_string = values.get(STORAGE_CONNECTION)
    if not connection_string and not identity and STORAGE_CONNECTION in values:
        problems.append(
            f"{STORAGE_CONNECTION} is missing: set a storage connection string (UseDevelopmentStorage=true "
            f"for Azurite) or {STORAGE_CONNECTION}__blobServiceUri and {STORAGE_CONNECTION}__queueServiceUri"
        )
    elif not connection_string and identity and not {"blobServiceUri", "queueServiceUri"} <= identity.keys():
        problems.append(
            f"{STORAGE_CONNECTION}__blobServiceUri and {STORAGE_CONNECTION}__queueServiceUri must both be "
            "set for an identity-based connection (the blob trigger uses queues too)"
        )
    poll, stale = values.get("RETRAIN_POLL_SECONDS"), values.get("RETRAIN_STALE_MINUTES")
    if isinstance(poll, int) and isinstance(stale, int) and poll >= stale * 60:
        problems.append(
            f"RETRAIN_STALE_MINUTES={stale} must be longer than RETRAIN_POLL_SECONDS={poll}: a polling run "
            "would look crashed between two polls"
        )
    if problems:
        raise SettingsError("Invalid settings:\n  - " + "\n  - ".join(problems))
    typed = {s.attr: values[s.name] for s in SETTINGS if s.name != STORAGE_CONNECTION}
    return Settings(
        storage_connection_string=connection_string,
        storage_identity=tuple(sorted(identity.items())),
        **typed,
    )


def setting_attributes() -> frozenset[str]:
    """The Settings attributes that hold one setting each (a test checks they match SETTINGS)."""
    return frozenset(f.name for f in fields(Settings)) - {"storage_connection_string", "storage_identity"}


def markdown_table() -> str:
    """The settings as a Markdown table for docs/settings.md (`python -m shared.settings.definitions`)."""
    rows = ["| name | default | meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = (
            f"`{s.default}`" if s.default is not None else ("(optional)" if s.optional else "**required**")
        )
        if s.only_when and s.default is None:
            default += f" when `{s.only_when[0]}={s.only_when[1]}`"
        rows.append(f"| `{s.name}` | {default} | {s.description.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
