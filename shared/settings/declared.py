"""The declaration of every setting the pipeline reads: name, meaning, default, parser.

``shared.settings.definitions`` reads and validates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.settings import parsers as p

# The connection name the triggers use (``connection="PIPELINE_STORAGE"`` in function_app.py). Either
# ``PIPELINE_STORAGE`` holds a connection string, or the identity-based group
# ``PIPELINE_STORAGE__blobServiceUri`` / ``__queueServiceUri`` (+ ``__credential``, ``__clientId``) is set.
STORAGE_CONNECTION = "PIPELINE_STORAGE"
STORAGE_IDENTITY_SUFFIXES = ("blobServiceUri", "queueServiceUri", "credential", "clientId")


@dataclass(frozen=True)
class Setting:
    name: str
    description: str
    default: str | None = None  # None: required (unless ``optional``)
    parse: Callable[[str], Any] = str
    optional: bool = False
    secret: bool = False
    # (setting, value): read and required only while that setting has that value (e.g. keys in key mode)
    only_when: tuple[str, str] | None = None

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
    Setting(
        "CUSTOMVISION_AUTH",
        "How the app signs in to Custom Vision: key (the two CUSTOMVISION_*_KEY settings) or identity "
        "(Entra ID tokens for https://cognitiveservices.azure.com from azure-identity's "
        "DefaultAzureCredential: the app's managed identity in Azure; no keys).",
        "key",
        p.one_of("key", "identity"),
    ),
    Setting(
        "AZURE_CLIENT_ID",
        "Client id of the user-assigned managed identity the app signs in with when CUSTOMVISION_AUTH="
        "identity; empty: DefaultAzureCredential's own choice (system-assigned identity, developer sign-in).",
        optional=True,
        parse=p.guid,
    ),
    Setting(
        "CUSTOMVISION_TRAINING_KEY",
        "Custom Vision training key (read only when CUSTOMVISION_AUTH=key).",
        None,
        secret=True,
        only_when=("CUSTOMVISION_AUTH", "key"),
    ),
    Setting(
        "CUSTOMVISION_PREDICTION_ENDPOINT", "Custom Vision prediction resource endpoint.", None, p.http_url
    ),
    Setting(
        "CUSTOMVISION_PREDICTION_KEY",
        "Custom Vision prediction key (read only when CUSTOMVISION_AUTH=key).",
        None,
        secret=True,
        only_when=("CUSTOMVISION_AUTH", "key"),
    ),
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
