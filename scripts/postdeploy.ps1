#!/usr/bin/env pwsh
# azd postdeploy hook (Windows): subscribe the classify function to BlobCreated events of the images container.
# Same steps as postdeploy.sh: read the blobs_extension key (it exists only once the deployed code has started),
# PUT the Event Grid subscription (idempotent), wait until Event Grid has validated the webhook.
# Every az call targets azd's subscription (AZURE_SUBSCRIPTION_ID): commands get --subscription, and `az rest`
# (which has no such option) takes the token's subscription from the /subscriptions/<id>/ URL. A failed call is
# retried a bounded number of times (POSTDEPLOY_RETRIES); the last failure's error output is shown.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# azd exports the environment's values to hooks; when run by hand, read them from azd.
if (-not $env:AZURE_FUNCTION_APP_NAME) {
    foreach ($line in (azd env get-values)) {
        if ($line -match '^([^=]+)=(.*)$') {
            [Environment]::SetEnvironmentVariable($Matches[1], $Matches[2].Trim('"'))
        }
    }
}

$required = 'AZURE_SUBSCRIPTION_ID', 'RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'SERVICE_PIPELINE_BASE_URL',
    'EVENTGRID_SYSTEM_TOPIC_NAME', 'AZURE_STORAGE_ACCOUNT_ID', 'IMAGES_CONTAINER', 'EVENTGRID_DEADLETTER_CONTAINER',
    'CLASSIFY_FUNCTION_NAME'
foreach ($name in $required) {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        Write-Error "postdeploy: $name is not set; run 'azd provision' first (or 'azd env refresh')."
    }
}

$subscriptionName = if ($env:EVENTGRID_SUBSCRIPTION_NAME) { $env:EVENTGRID_SUBSCRIPTION_NAME } else { 'classifyimages' }
$attempts = if ($env:POSTDEPLOY_ATTEMPTS) { [int]$env:POSTDEPLOY_ATTEMPTS } else { 30 }
$delay = if ($env:POSTDEPLOY_DELAY_SECONDS) { [int]$env:POSTDEPLOY_DELAY_SECONDS } else { 10 }
$retries = if ($env:POSTDEPLOY_RETRIES) { [int]$env:POSTDEPLOY_RETRIES } else { 3 }
$subscription = $env:AZURE_SUBSCRIPTION_ID

# Runs az with the given arguments, retrying a failure up to $retries times; returns its output.
# On the last failure, says what failed and shows az's error output.
function Invoke-AzRetry([string]$What, [string[]]$Arguments) {
    for ($try = 1; ; $try++) {
        $out = az @Arguments 2>$errFile
        if ($LASTEXITCODE -eq 0) { return $out }
        if ($try -ge $retries) {
            Write-Error ("postdeploy: $What failed $retries times; the last error was:`n" + (Get-Content -Raw $errFile))
        }
        Write-Host "postdeploy: $What failed (try $try/$retries), retrying in ${delay}s"
        Start-Sleep -Seconds $delay
    }
}

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Write-Error ('postdeploy: the Azure CLI (az) is not installed or not on PATH. Install it ' +
        "(https://learn.microsoft.com/cli/azure/install-azure-cli), run 'az login', then scripts/postdeploy.ps1.")
}
$errFile = New-TemporaryFile
$bodyFile = $null
try {
    az account show --subscription $subscription --query id --output tsv 2>$errFile | Out-Null
    if ($LASTEXITCODE -ne 0) {
        Write-Error ("postdeploy: the Azure CLI is not signed in to subscription $subscription (azd's " +
            "AZURE_SUBSCRIPTION_ID). Run 'az login' (with --tenant if needed), then scripts/postdeploy.ps1. az said:`n" +
            (Get-Content -Raw $errFile))
    }

    Write-Host "postdeploy: reading the blobs_extension key of $env:AZURE_FUNCTION_APP_NAME"
    $key = ''
    for ($attempt = 1; ; $attempt++) {
        $key = Invoke-AzRetry "reading the function keys of $env:AZURE_FUNCTION_APP_NAME" @(
            'functionapp', 'keys', 'list', '--subscription', $subscription, '--resource-group', $env:RESOURCE_GROUP,
            '--name', $env:AZURE_FUNCTION_APP_NAME, '--query', 'systemKeys.blobs_extension', '--output', 'tsv')
        if ($key) { break }
        if ($attempt -ge $attempts) {
            Write-Error ("postdeploy: no blobs_extension key after $attempts attempts. The host creates it when it " +
                "starts the blob trigger: check the deployment and the app's logs, then run scripts/postdeploy.ps1 again.")
        }
        Write-Host "postdeploy: key not there yet (attempt $attempt/$attempts), waiting ${delay}s"
        Start-Sleep -Seconds $delay
    }

    $webhook = "$($env:SERVICE_PIPELINE_BASE_URL.TrimEnd('/'))/runtime/webhooks/blobs?functionName=Host.Functions.$($env:CLASSIFY_FUNCTION_NAME)"
    $subscriptionUrl = "/subscriptions/$($env:AZURE_SUBSCRIPTION_ID)/resourceGroups/$($env:RESOURCE_GROUP)" +
        "/providers/Microsoft.EventGrid/systemTopics/$($env:EVENTGRID_SYSTEM_TOPIC_NAME)" +
        "/eventSubscriptions/$($subscriptionName)?api-version=2022-06-15"

    $body = @{
        properties = @{
            destination = @{
                endpointType = 'WebHook'
                properties = @{
                    endpointUrl = "$webhook&code=$key"
                    maxEventsPerBatch = 1
                    preferredBatchSizeInKilobytes = 64
                }
            }
            filter = @{
                includedEventTypes = @('Microsoft.Storage.BlobCreated')
                subjectBeginsWith = "/blobServices/default/containers/$($env:IMAGES_CONTAINER)/"
                isSubjectCaseSensitive = $false
            }
            eventDeliverySchema = 'EventGridSchema'
            retryPolicy = @{
                maxDeliveryAttempts = 30
                eventTimeToLiveInMinutes = 1440
            }
            deadLetterWithResourceIdentity = @{
                identity = @{ type = 'SystemAssigned' }
                deadLetterDestination = @{
                    endpointType = 'StorageBlob'
                    properties = @{
                        resourceId = $env:AZURE_STORAGE_ACCOUNT_ID
                        blobContainerName = $env:EVENTGRID_DEADLETTER_CONTAINER
                    }
                }
            }
        }
    }

    # The body holds the key: a temporary file, removed afterwards, never printed.
    $bodyFile = New-TemporaryFile
    $body | ConvertTo-Json -Depth 10 | Set-Content -Path $bodyFile -Encoding utf8
    Write-Host "postdeploy: subscribing $webhook&code=*** to BlobCreated in '$($env:IMAGES_CONTAINER)'"
    # A PUT of the same body is idempotent, so a transient failure is retried like a GET.
    Invoke-AzRetry 'creating the Event Grid subscription' @(
        'rest', '--method', 'put', '--url', $subscriptionUrl, '--body', "@$bodyFile", '--output', 'none') | Out-Null

    # Event Grid validates the webhook (the blob extension answers the handshake) before the subscription is ready.
    for ($attempt = 1; ; $attempt++) {
        $state = Invoke-AzRetry "reading the Event Grid subscription's state" @(
            'rest', '--method', 'get', '--url', $subscriptionUrl, '--query', 'properties.provisioningState', '--output', 'tsv')
        if ($state -eq 'Succeeded') {
            Write-Host "postdeploy: Event Grid subscription '$subscriptionName' is ready"
            exit 0
        }
        if ($state -in 'Failed', 'Canceled') {
            Write-Error ("postdeploy: Event Grid subscription '$subscriptionName' ended in state $state; the webhook " +
                'validation failed: check that the classify function is deployed and running.')
        }
        if ($attempt -ge $attempts) {
            Write-Error "postdeploy: subscription still '$state' after $attempts checks; run scripts/postdeploy.ps1 again."
        }
        Write-Host "postdeploy: subscription '$state' (check $attempt/$attempts), waiting ${delay}s"
        Start-Sleep -Seconds $delay
    }
finally {
    Remove-Item -Path $errFile -Force -ErrorAction SilentlyContinue
    if ($bodyFile) { Remove-Item -Path $bodyFile -Force -ErrorAction SilentlyContinue }
}
