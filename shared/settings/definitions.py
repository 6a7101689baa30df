"""Every setting the pipeline reads, validated in one place.

Settings come from the environment: app settings in Azure, ``local.settings.json`` ``Values`` locally
(the Functions host and devhost both export them). ``load_settings()`` fails fast with a
``SettingsError`` that names each wrong or missing setting (and each unresolved Key Vault reference);
nothing else in ``shared/`` reads ``os.environ``. The result is one frozen, typed ``Settings`` object:
each setting is the attribute of its name in lower case (``settings.images_container``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from shared.settings import parsers as p

# The connection name the triggers use (``connection="PIPELINE_STORAGE"`` in function_app.py). Either
# ``PIPELINE_STORAGE`` holds a connection string, or the identity-based group
# ``PIPELINE_STORAGE__blobServiceUri`` / ``__queueServiceUri`` (+ ``__credential``, ``__clientId``) is set.
STORAGE_CONNECTION = "PIPELINE_STORAGE"
STORAGE_IDENTITY_SUFFIXES = ("blobServiceUri", "queueServiceUri", "credential", "clientId")


class SettingsError(ValueError):
    """One or more settings are missing or malformed; the message names each one."""


@dataclass(frozen=True)
class Setting:
    name: str
    description: str
    default: str | None = None  # None: required (unless ``optional``)
    parse: Callable[[str], Any] = str
    optional: bool = False
    secret: bool = False

    @property
    def attr(self) -> str:
        """The Settings attribute that holds this setting."""
        return self.name.lower()


SETTINGS: tuple[Setting, ...] = (
    # Storage (connection string or identity-based group, see STORAGE_CONNECTION)
    Setting(
        STORAGE_CONNECTION,
        "Storage connection string for the pipeline's containers and queues; "
        "or set the identity-based PIPELINE_STORAGE__blobServiceUri / __queueServiceUri instead.",
        optional=True,
        secret=True,
    ),
    Setting("IMAGES_CONTAINER", "Container watched for images to classify.", "images", p.container_name),
    Setting(
        "RESULTS_CONTAINER",
        "Container that receives one {name}.json document per image.",
        "results",
        p.container_name,
    ),
    Setting(
        "REVIEW_CONTAINER",
        "Container that receives copies of low-confidence images.",
        "review",
        p.container_name,
    ),
    Setting(
        "TRAINING_CONTAINER",
        "Container of labelled training images, training/{tag}/{file}.",
        "training",
        p.container_name,
    ),
    Setting(
        "NEGATIVE_FOLDER",
        "Training folder whose images become Custom Vision's Negative tag ('none of these' examples).",
        "_negative",
        p.folder_name,
    ),
    Setting(
        "PIPELINE_CONTAINER",
        "Container of the pipeline's own state: run records, sync manifest, lock.",
        "pipeline",
        p.container_name,
    ),
    Setting(
        "RETRAIN_QUEUE", "Queue that carries retrain cycle steps to the worker.", "retrain", p.queue_name
    ),
    # Custom Vision
    Setting("CUSTOMVISION_TRAINING_ENDPOINT", "Custom Vision training resource endpoint.", None, p.http_url),
    Setting("CUSTOMVISION_TRAINING_KEY", "Custom Vision training key.", None, secret=True),
    Setting(
        "CUSTOMVISION_PREDICTION_ENDPOINT", "Custom Vision prediction resource endpoint.", None, p.http_url
    ),
    Setting("CUSTOMVISION_PREDICTION_KEY", "Custom Vision prediction key.", None, secret=True),
    Setting(
        "CUSTOMVISION_PREDICTION_RESOURCE_ID",
        "Azure resource id of the prediction resource (publishing needs it).",
        None,
        p.resource_id,
    ),
    Setting(
        "CUSTOMVISION_PROJECT_ID",
        "Project id; when empty the project is found or created by name.",
        optional=True,
        parse=p.guid,
    ),
    Setting(
        "CUSTOMVISION_PROJECT_NAME", "Project name to find or create when no id is given.", "Classify Fruit"
    ),
    Setting(
        "CUSTOMVISION_CLASSIFICATION_TYPE",
        "Classification type of a created project.",
        "Multiclass",
        p.one_of("Multiclass", "Multilabel"),
    ),
    Setting(
        "CUSTOMVISION_DOMAIN", "Domain name of a created project, e.g. General, Food, Retail.", "General"
    ),
    Setting(
        "CUSTOMVISION_TIMEOUT_SECONDS",
        "Read timeout of one Custom Vision call (connect timeout: 10 s "
        "or this, whichever is less); a timeout counts as a transient error.",
        "30",
        p.positive_float,
    ),
    Setting(
        "PUBLISHED_NAME", "Name the model is published and called under.", "fruit-classifier", p.publish_name
    ),
    # Classification
    Setting(
        "CLASSIFIER_MODE",
        "service: classify with the published Custom Vision model; onnx: export each published iteration "
        "(compact domain) and classify in-process with it (pipeline/models/current.json).",
        "service",
        p.one_of("service", "onnx"),
    ),
    Setting(
        "PREDICTION_THRESHOLD",
        "Probability at or over which a tag is listed in a result's tags.",
        "0.5",
        p.probability,
    ),
    Setting(
        "REVIEW_THRESHOLD",
        "Images whose top probability is below this are copied to the review container.",
        "0.6",
        p.probability,
    ),
    Setting(
        "PREDICTION_MAX_TPS",
        "Client-side limit of prediction calls per second per instance "
        "(F0 allows 2, S0 20 on /nostore); 0 for no limit.",
        "10",
        p.non_negative_float,
    ),
    Setting(
        "QUICKTEST_MAX_TPS",
        "Client-side limit of quick-test prediction calls per second per instance, a budget apart "
        "from PREDICTION_MAX_TPS (Flex Consumption runs HTTP functions on instances of their own); "
        "0 for no limit.",
        "0.5",
        p.non_negative_float,
    ),
    Setting(
        "TRANSIENT_RETRY_SECONDS",
        "Time budget for retrying a throttled or failing call inside one "
        "invocation before the host retries it.",
        "60",
        p.non_negative_float,
    ),
    Setting(
        "QUICKTEST_MAX_BYTES",
        "Largest image POST /api/classify accepts, as a body or fetched from a URL (413 beyond).",
        "20971520",
        p.positive_int,
    ),
    Setting(
        "QUICKTEST_URL_TIMEOUT_SECONDS",
        "Time limit for fetching an image URL given to POST /api/classify.",
        "10",
        p.positive_float,
    ),
    # Retrain
    Setting(
        "RETRAIN_SCHEDULE",
        "Six-field NCRONTAB schedule of the scheduled retrain (UTC).",
        "0 0 3 * * *",
        p.ncrontab,
    ),
    Setting(
        "TRAINING_TYPE", "Regular (quick) or Advanced training.", "Regular", p.one_of("Regular", "Advanced")
    ),
    Setting("TRAINING_BUDGET_HOURS", "Reserved budget in hours for Advanced training.", "1", p.positive_int),
    Setting("RETRAIN_POLL_SECONDS", "Delay between polls of a training iteration.", "30", p.positive_int),
    Setting("GATE_MIN_PRECISION", "Minimum precision at the threshold to publish.", "0.8", p.probability),
    Setting("GATE_MIN_RECALL", "Minimum recall at the threshold to publish.", "0.8", p.probability),
    Setting("GATE_MIN_AP", "Minimum average precision to publish.", "0.8", p.probability),
    Setting(
        "GATE_TOLERANCE",
        "How much worse than the published iteration a new one may be.",
        "0.02",
        p.probability,
    ),
    Setting(
        "RETRAIN_STALE_MINUTES",
        "A cycle whose run record was not updated for this long no longer blocks "
        "a new one (it is taken as crashed).",
        "120",
        p.positive_int,
    ),
    Setting(
        "KEEP_ITERATIONS",
        "Iterations kept in the project; older ones are deleted (Custom Vision allows 20).",
        "5",
        p.positive_int,
    ),
)

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
    customvision_training_endpoint: str
    customvision_training_key: str
    customvision_prediction_endpoint: str
    customvision_prediction_key: str
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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming all that are wrong."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = env.get(setting.name, "").strip()
        if raw.startswith(KEY_VAULT_REFERENCE):
            problems.append(_unresolved(setting.name))
            continue
        if not raw:
            if setting.default is None:
                values[setting.name] = None
                if not setting.optional:
                    problems.append(f"{setting.name} is missing: {setting.description}")
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
        rows.append(f"| `{s.name}` | {default} | {s.description.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
