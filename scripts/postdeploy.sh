#!/bin/sh
# azd postdeploy hook: subscribe the classify function to BlobCreated events of the images container.
#
# The subscription targets the blob extension's webhook, whose key (blobs_extension) exists only once the
# deployed code has started, so it cannot be part of the Bicep deployment. Safe to run again: the PUT
# updates an existing subscription. Needs az (logged in) and, outside azd, azd for the environment values.
set -eu

# azd exports the environment's values to hooks; when run by hand, read them from azd.
if [ -z "${AZURE_FUNCTION_APP_NAME:-}" ]; then
  eval "$(azd env get-values)"
fi

for name in AZURE_SUBSCRIPTION_ID RESOURCE_GROUP AZURE_FUNCTION_APP_NAME SERVICE_PIPELINE_BASE_URL \
  EVENTGRID_SYSTEM_TOPIC_NAME AZURE_STORAGE_ACCOUNT_ID IMAGES_CONTAINER EVENTGRID_DEADLETTER_CONTAINER \
  CLASSIFY_FUNCTION_NAME; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "postdeploy: $name is not set; run 'azd provision' first (or 'azd env refresh')." >&2
    exit 1
  fi
done

subscription_name="${EVENTGRID_SUBSCRIPTION_NAME:-classifyimages}"
attempts="${POSTDEPLOY_ATTEMPTS:-30}"
delay="${POSTDEPLOY_DELAY_SECONDS:-10}"

echo "postdeploy: reading the blobs_extension key of $AZURE_FUNCTION_APP_NAME"
attempt=1
while :; do
  key="$(az functionapp keys list --resource-group "$RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query systemKeys.blobs_extension --output tsv 2>/dev/null || true)"
  if [ -n "$key" ]; then
    break
  fi
  if [ "$attempt" -ge "$attempts" ]; then
    echo "postdeploy: no blobs_extension key after $attempts attempts. The host creates it when it starts the" \
      "blob trigger: check the deployment and the app's logs, then run scripts/postdeploy.sh again." >&2
    exit 1
  fi
  echo "postdeploy: key not there yet (attempt $attempt/$attempts), waiting ${delay}s"
  attempt=$((attempt + 1))
  sleep "$delay"
done

webhook="${SERVICE_PIPELINE_BASE_URL%/}/runtime/webhooks/blobs?functionName=Host.Functions.${CLASSIFY_FUNCTION_NAME}"
subscription_url="/subscriptions/$AZURE_SUBSCRIPTION_ID/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.EventGrid/systemTopics/$EVENTGRID_SYSTEM_TOPIC_NAME/eventSubscriptions/$subscription_name?api-version=2022-06-15"

# The body holds the key: a private temporary file, removed on exit, never printed.
umask 077
body="$(mktemp)"
trap 'rm -f "$body"' EXIT INT TERM
cat >"$body" <<JSON
{
  "properties": {
    "destination": {
      "endpointType": "WebHook",
      "properties": {
        "endpointUrl": "$webhook&code=$key",
        "maxEventsPerBatch": 1,
        "preferredBatchSizeInKilobytes": 64
      }
    },
    "filter": {
      "includedEventTypes": ["Microsoft.Storage.BlobCreated"],
      "subjectBeginsWith": "/blobServices/default/containers/$IMAGES_CONTAINER/",
      "isSubjectCaseSensitive": false
    },
    "eventDeliverySchema": "EventGridSchema",
    "retryPolicy": {
      "maxDeliveryAttempts": 30,
      "eventTimeToLiveInMinutes": 1440
    },
    "deadLetterWithResourceIdentity": {
      "identity": {"type": "SystemAssigned"},
      "deadLetterDestination": {
        "endpointType": "StorageBlob",
        "properties": {
          "resourceId": "$AZURE_STORAGE_ACCOUNT_ID",
          "blobContainerName": "$EVENTGRID_DEADLETTER_CONTAINER"
        }
      }
    }
  }
}
JSON

echo "postdeploy: subscribing $webhook&code=*** to BlobCreated in '$IMAGES_CONTAINER'"
az rest --method put --url "$subscription_url" --body "@$body" --output none

# Event Grid validates the webhook (the blob extension answers the handshake) before the subscription is ready.
attempt=1
while :; do
  state="$(az rest --method get --url "$subscription_url" --query properties.provisioningState --output tsv)"
  case "$state" in
    Succeeded)
      echo "postdeploy: Event Grid subscription '$subscription_name' is ready"
      exit 0
      ;;
    Failed | Canceled)
      echo "postdeploy: Event Grid subscription '$subscription_name' ended in state $state; the webhook" \
        "validation failed: check that the classify function is deployed and running." >&2
      exit 1
      ;;
  esac
  if [ "$attempt" -ge "$attempts" ]; then
    echo "postdeploy: subscription still '$state' after $attempts checks; run scripts/postdeploy.sh again." >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "$delay"
done
