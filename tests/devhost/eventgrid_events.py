"""Event Grid bodies for the blobs webhook tests, and the webhook's URL."""

from __future__ import annotations

import uuid
from typing import Any

WEBHOOK = "/runtime/webhooks/blobs"
BLOBS_EXTENSION_KEY = "test-blobs-extension-key"
TOPIC = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"


def webhook_url(base: str, function: str) -> str:
    return f"{base}{WEBHOOK}?functionName=Host.Functions.{function}"


def validation_event(code: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "topic": TOPIC,
            "subject": "",
            "data": {"validationCode": code, "validationUrl": "https://example.invalid/validate"},
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2026-01-01T00:00:00Z",
            "metadataVersion": "1",
            "dataVersion": "1",
        }
    ]


def blob_event(blob_url: str, event_type: str = "Microsoft.Storage.BlobCreated") -> dict[str, Any]:
    container, name = blob_url.split("/devstoreaccount1/", 1)[1].split("/", 1)
    return {
        "topic": TOPIC,
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "eventType": event_type,
        "id": str(uuid.uuid4()),
        "data": {"api": "PutBlob", "blobType": "BlockBlob", "url": blob_url},
        "dataVersion": "",
        "metadataVersion": "1",
        "eventTime": "2026-01-01T00:00:00Z",
    }
