#!/bin/sh
# azd postdeploy hook: subscribe the classify function to BlobCreated events of the images container.
#
# The subscription targets the blob extension's webhook, whose key (blobs_extension) exists only once the
# deployed code has started, so it cannot be part of the Bicep deployment. Safe to run again: the PUT
# updates an existing subscription. Needs az (signed in) and, outside azd, azd for the environment values.
#
# Every az call targets azd's subscription (AZURE_SUBSCRIPTION_ID), not the CLI's current one: commands get
# --subscription, and `az rest` (which has no such option) takes the token's subscription from the
# /subscriptions/<id>/ URL. A failed call is retried a bounded number of times (POSTDEPLOY_RETRIES); the
# last failure's error output is shown.
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
retries="${POSTDEPLOY_RETRIES:-3}"

# Private temporary files (the PUT body holds the key), removed on exit, never printed.
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

if ! command -v az >/dev/null 2>&1; then
  echo "postdeploy: the Azure CLI (az) is not installed or not on PATH. Install it" \
    "(https://learn.microsoft.com/cli/azure/install-azure-cli), run 'az login', then scripts/postdeploy.sh." >&2
  exit 1
fi
if ! az account show --subscription "$AZURE_SUBSCRIPTION_ID" --query id --output tsv \
  >"$work/out" 2>"$work/err"; then
  echo "postdeploy: the Azure CLI is not signed in to subscription $AZURE_SUBSCRIPTION_ID (azd's" \
    "AZURE_SUBSCRIPTION_ID). Run 'az login' (with --tenant if needed), then scripts/postdeploy.sh. az said:" >&2
  cat "$work/err" >&2
  exit 1
fi

# az_retry WHAT ARGS...: run az, retrying a failure up to $retries times; print its output on success.
# On the last failure, say what failed and show az's error output.
az_retry() {
  what="$1"
  shift
  try=1
  while :; do
    if az "$@" >"$work/out" 2>"$work/err"; then
      cat "$work/out"
      return 0
    fi
    if [ "$try" -ge "$retries" ]; then
      echo "postdeploy: $what failed $retries times; the last error was:" >&2
      cat "$work/err" >&2
      return 1
    fi
    echo "postdeploy: $what failed (try $try/$retries), retrying in ${delay}s" >&2
    try=$((try + 1))
    sleep "$delay"
  done
}

echo "postdeploy: reading the blobs_extension key of $AZURE_FUNCTION_APP_NAME"
attempt=1
while :; do
  key="$(az_retry "reading the function keys of $AZURE_FUNCTION_APP_NAME" functionapp keys list \
    --subscription "$AZURE_SUBSCRIPTION_ID" --resource-group "$RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query systemKeys.blobs_extension --output tsv)" || exit 1
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

body="$work/subscription.json"
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
# A PUT of the same body is idempotent, so a transient failure is retried like a GET.
az_retry "creating the Event Grid subscription" rest --method put --url "$subscription_url" \
  --body "@$body" --output none >/dev/null || exit 1

# Event Grid validates the webhook (the blob extension answers the handshake) before the subscription is ready.
attempt=1
while :; do
  state="$(az_retry "reading the Event Grid subscription's state" rest --method get --url "$subscription_url" \
    --query properties.provisioningState --output tsv)" || exit 1
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
  echo "postdeploy: subscription '$state' (check $attempt/$attempts), waiting ${delay}s"
  attempt=$((attempt + 1))
  sleep "$delay"
done
