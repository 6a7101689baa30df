"""Every setting the pipeline reads, validated in one place.

Settings come from the environment: app settings in Azure, ``local.settings.json`` ``Values`` locally
(the Functions host and devhost both export them). ``load_settings()`` fails fast with a
``SettingsError`` that names each wrong or missing setting; nothing else in ``shared/`` reads
``os.environ``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be more than 0")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueError(f"must be one of {', '.join(choices)}")

    return parse


def _http_url(text: str) -> str:
    if not re.match(r"^https?://[^/\s]+", text):
        raise ValueError("must be an http(s) URL such as https://<name>.cognitiveservices.azure.com/")
    return text.rstrip("/")


def _guid(text: str) -> str:
    return str(UUID(text))


def _resource_id(text: str) -> str:
    pattern = (
        r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.CognitiveServices/accounts/[^/]+"
    )
    if not re.fullmatch(pattern, text, flags=re.IGNORECASE):
        raise ValueError(
            "must be the prediction resource's Azure resource id, /subscriptions/<id>/resourceGroups/<group>"
            "/providers/Microsoft.CognitiveServices/accounts/<name>"
        )
    return text


def _ncrontab(text: str) -> str:
    if len(text.split()) != 6:
        raise ValueError(
            "must be a six-field NCRONTAB expression: {second} {minute} {hour} {day} {month} {dow}"
        )
    return text


def _container_name(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", text):
        raise ValueError("must be a valid blob container name (3-63 lowercase letters, digits, hyphens)")
    return text


def _queue_name(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", text):
        raise ValueError("must be a valid queue name (3-63 lowercase letters, digits, hyphens)")
    return text


def _publish_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", text):
        raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
    return text


def _folder_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > 256 or "/" in name:
        raise ValueError("must be a folder name of 1 to 256 characters, without '/'")
    return name


SETTINGS: tuple[Setting, ...] = (
    # Storage (connection string or identity-based group, see STORAGE_CONNECTION)
    Setting(
        STORAGE_CONNECTION,
        "Storage connection string for the pipeline's containers and queues; "
        "or set the identity-based PIPELINE_STORAGE__blobServiceUri / __queueServiceUri instead.",
        optional=True,
        secret=True,
    ),
    Setting("IMAGES_CONTAINER", "Container watched for images to classify.", "images", _container_name),
    Setting(
        "RESULTS_CONTAINER",
        "Container that receives one {name}.json document per image.",
        "results",
        _container_name,
    ),
    Setting(
        "REVIEW_CONTAINER",
        "Container that receives copies of low-confidence images.",
        "review",
        _container_name,
    ),
    Setting(
        "TRAINING_CONTAINER",
        "Container of labelled training images, training/{tag}/{file}.",
        "training",
        _container_name,
    ),
    Setting(
        "NEGATIVE_FOLDER",
        "Training folder whose images become Custom Vision's Negative tag ('none of these' examples).",
        "_negative",
        _folder_name,
    ),
    Setting(
        "PIPELINE_CONTAINER",
        "Container of the pipeline's own state: run records, sync manifest, lock.",
        "pipeline",
        _container_name,
    ),
    Setting("RETRAIN_QUEUE", "Queue that carries retrain cycle steps to the worker.", "retrain", _queue_name),
    # Custom Vision
    Setting("CUSTOMVISION_TRAINING_ENDPOINT", "Custom Vision training resource endpoint.", None, _http_url),
    Setting("CUSTOMVISION_TRAINING_KEY", "Custom Vision training key.", None, secret=True),
    Setting(
        "CUSTOMVISION_PREDICTION_ENDPOINT", "Custom Vision prediction resource endpoint.", None, _http_url
    ),
    Setting("CUSTOMVISION_PREDICTION_KEY", "Custom Vision prediction key.", None, secret=True),
    Setting(
        "CUSTOMVISION_PREDICTION_RESOURCE_ID",
        "Azure resource id of the prediction resource (publishing needs it).",
        None,
        _resource_id,
    ),
    Setting(
        "CUSTOMVISION_PROJECT_ID",
        "Project id; when empty the project is found or created by name.",
        optional=True,
        parse=_guid,
    ),
    Setting(
        "CUSTOMVISION_PROJECT_NAME", "Project name to find or create when no id is given.", "Classify Fruit"
    ),
    Setting(
        "CUSTOMVISION_CLASSIFICATION_TYPE",
        "Classification type of a created project.",
        "Multiclass",
        _one_of("Multiclass", "Multilabel"),
    ),
    Setting(
        "CUSTOMVISION_DOMAIN", "Domain name of a created project, e.g. General, Food, Retail.", "General"
    ),
    Setting(
        "CUSTOMVISION_TIMEOUT_SECONDS",
        "Read timeout of one Custom Vision call (connect timeout: 10 s "
        "or this, whichever is less); a timeout counts as a transient error.",
        "30",
        _positive_float,
    ),
    Setting(
        "PUBLISHED_NAME", "Name the model is published and called under.", "fruit-classifier", _publish_name
    ),
    # Classification
    Setting(
        "PREDICTION_THRESHOLD",
        "Probability at or over which a tag is listed in a result's tags.",
        "0.5",
        _probability,
    ),
    Setting(
        "REVIEW_THRESHOLD",
        "Images whose top probability is below this are copied to the review container.",
        "0.6",
        _probability,
    ),
    Setting(
        "PREDICTION_MAX_TPS",
        "Client-side limit of prediction calls per second per instance "
        "(F0 allows 2, S0 20 on /nostore); 0 for no limit.",
        "10",
        _non_negative_float,
    ),
    Setting(
        "TRANSIENT_RETRY_SECONDS",
        "Time budget for retrying a throttled or failing call inside one "
        "invocation before the host retries it.",
        "60",
        _non_negative_float,
    ),
    Setting(
        "QUICKTEST_MAX_BYTES",
        "Largest image POST /api/classify accepts, as a body or fetched from a URL (413 beyond).",
        "20971520",
        _positive_int,
    ),
    Setting(
        "QUICKTEST_URL_TIMEOUT_SECONDS",
        "Time limit for fetching an image URL given to POST /api/classify.",
        "10",
        _positive_float,
    ),
    # Retrain
    Setting(
        "RETRAIN_SCHEDULE",
        "Six-field NCRONTAB schedule of the scheduled retrain (UTC).",
        "0 0 3 * * *",
        _ncrontab,
    ),
    Setting(
        "TRAINING_TYPE", "Regular (quick) or Advanced training.", "Regular", _one_of("Regular", "Advanced")
    ),
    Setting("TRAINING_BUDGET_HOURS", "Reserved budget in hours for Advanced training.", "1", _positive_int),
    Setting("RETRAIN_POLL_SECONDS", "Delay between polls of a training iteration.", "30", _positive_int),
    Setting("GATE_MIN_PRECISION", "Minimum precision at the threshold to publish.", "0.8", _probability),
    Setting("GATE_MIN_RECALL", "Minimum recall at the threshold to publish.", "0.8", _probability),
    Setting("GATE_MIN_AP", "Minimum average precision to publish.", "0.8", _probability),
    Setting(
        "GATE_TOLERANCE",
        "How much worse than the published iteration a new one may be.",
        "0.02",
        _probability,
    ),
    Setting(
        "RETRAIN_STALE_MINUTES",
        "A cycle whose run record was not updated for this long no longer blocks "
        "a new one (it is taken as crashed).",
        "120",
        _positive_int,
    ),
    Setting(
        "KEEP_ITERATIONS",
        "Iterations kept in the project; older ones are deleted (Custom Vision allows 20).",
        "5",
        _positive_int,
    ),
)

SETTING_NAMES: frozenset[str] = frozenset(s.name for s in SETTINGS)


@dataclass(frozen=True)
class Settings:
    """Parsed settings. ``values`` maps each setting name to its parsed value (None when unset optional)."""

    values: Mapping[str, Any]
    storage_connection_string: str | None = None
    storage_identity: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def redacted(self) -> dict[str, Any]:
        """The settings as they may be logged: secrets replaced."""
        secret = {s.name for s in SETTINGS if s.secret}
        return {k: ("***" if k in secret and v else v) for k, v in self.values.items()}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming all that are wrong."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = env.get(setting.name, "").strip()
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

    identity = {
        suffix: env[f"{STORAGE_CONNECTION}__{suffix}"].strip()
        for suffix in STORAGE_IDENTITY_SUFFIXES
        if env.get(f"{STORAGE_CONNECTION}__{suffix}", "").strip()
    }
    connection_string = values.get(STORAGE_CONNECTION)
    if not connection_string and not identity:
        problems.append(
            f"{STORAGE_CONNECTION} is missing: set a storage connection string (UseDevelopmentStorage=true "
            f"for Azurite) or {STORAGE_CONNECTION}__blobServiceUri and {STORAGE_CONNECTION}__queueServiceUri"
        )
    elif not connection_string and not {"blobServiceUri", "queueServiceUri"} <= identity.keys():
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
    return Settings(values=values, storage_connection_string=connection_string, storage_identity=identity)


def markdown_table() -> str:
    """The settings as a Markdown table for README.md (`python -m shared.settings` prints it)."""
    rows = ["| name | default | meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = (
            f"`{s.default}`" if s.default is not None else ("(optional)" if s.optional else "**required**")
        )
        rows.append(f"| `{s.name}` | {default} | {s.description.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
