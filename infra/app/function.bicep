// The Flex Consumption (FC1) Linux function app running function_app.py on Python 3.11.
// Python 3.11, not 3.12 (which Microsoft's Flex samples deploy now; both are supported on Flex): the tests, the
// pinned lock (requirements-lock.txt) and the clean-environment package test (tests/infra/test_package.py) run
// on 3.11, so 3.11 is what is proven. Moving to 3.12 is this one line once those run on 3.12.
// Flex Consumption refuses the site properties and app settings it deprecated (siteConfig.ftpsState,
// FUNCTIONS_WORKER_RUNTIME, ...): none is set here (tests/infra/azure_rules.py lists them).
// Every setting the code reads (shared/settings/definitions.py) is set here by name; storage and App Insights connect
// with the user-assigned identity, the Custom Vision keys come from Key Vault references.
param name string
param planName string
param location string
param tags object = {}
@description('Resource id of the user-assigned identity.')
param identityId string
@description('Client id of the user-assigned identity.')
param identityClientId string
param blobEndpoint string
param queueEndpoint string
param tableEndpoint string
param deploymentContainerName string
@description('Upper bound of Flex Consumption instances; with predictionMaxTps it keeps the app within the Custom Vision tier\'s rate.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048
param appInsightsConnectionString string

param imagesContainer string
param resultsContainer string
param reviewContainer string
param trainingContainer string
param pipelineContainer string
param retrainQueue string

param trainingEndpoint string
param trainingKeySecretUri string
param predictionEndpoint string
param predictionKeySecretUri string
param predictionResourceId string
@description('key: the Custom Vision keys come from Key Vault references; identity: Entra ID tokens of identityClientId.')
@allowed([
  'key'
  'identity'
])
param customVisionAuth string = 'key'

@allowed([
  'service'
  'onnx'
])
param classifierMode string = 'onnx'

var keyMode = customVisionAuth == 'key'
param projectId string = ''
param projectName string = 'Classify Fruit'
param classificationType string = 'Multiclass'
param domain string = 'Food (compact)'
param publishedName string = 'fruit-classifier'
param retrainSchedule string = '0 0 3 * * *'
@description('Client-side prediction calls per second per instance (PREDICTION_MAX_TPS); see main.bicep\'s rate budget.')
param predictionMaxTps string
@description('Client-side quick-test prediction calls per second per instance (QUICKTEST_MAX_TPS): the HTTP functions\' own share of the rate budget.')
param quickTestMaxTps string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // checkov:skip=CKV_AZURE_225:Flex zone redundancy is region-dependent and keeps at least two billed always-ready instances per function; a cost choice left off here.
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd deploy finds the app by this tag (service "pipeline" in azure.yaml).
  tags: union(tags, {
    'azd-service-name': 'pipeline'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    // checkov:skip=CKV_AZURE_222:Event Grid delivers BlobCreated events to the app's public webhook; HTTP functions need a function key.
    // checkov:skip=CKV_AZURE_17:Event Grid webhook delivery cannot present client certificates; function keys authenticate callers.
    // checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero by design; always-ready instances are a cost choice.
    // checkov:skip=CKV_AZURE_213:Flex Consumption has no platform health check; the platform manages instances.
    // checkov:skip=CKV_AZURE_78:Flex Consumption has no FTP/FTPS endpoint and refuses siteConfig.ftpsState (BadRequest 51021); deployment is from a blob container with the app's identity.
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [
        // Functions host storage, identity-based.
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: blobEndpoint
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: queueEndpoint
        }
        // The host writes its diagnostic events to a table (as in the azd Flex Consumption template).
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: tableEndpoint
        }
        // Application Insights with Entra ID ingestion (local auth is off on the component).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // The triggers' connection PIPELINE_STORAGE, identity-based. The blob trigger needs the queue URI too.
        {
          name: 'PIPELINE_STORAGE__blobServiceUri'
          value: blobEndpoint
        }
        {
          name: 'PIPELINE_STORAGE__queueServiceUri'
          value: queueEndpoint
        }
        {
          name: 'PIPELINE_STORAGE__credential'
          value: 'managedidentity'
        }
        {
          name: 'PIPELINE_STORAGE__clientId'
          value: identityClientId
        }
        {
          name: 'IMAGES_CONTAINER'
          value: imagesContainer
        }
        {
          name: 'RESULTS_CONTAINER'
          value: resultsContainer
        }
        {
          name: 'REVIEW_CONTAINER'
          value: reviewContainer
        }
        {
          name: 'TRAINING_CONTAINER'
          value: trainingContainer
        }
        {
          name: 'NEGATIVE_FOLDER'
          value: '_negative'
        }
        {
          name: 'PIPELINE_CONTAINER'
          value: pipelineContainer
        }
        {
          name: 'RETRAIN_QUEUE'
          value: retrainQueue
        }
        // Custom Vision: endpoints, keys from Key Vault (key mode) or the identity's tokens (identity mode),
        // the prediction resource publishing targets.
        {
          name: 'CUSTOMVISION_AUTH'
          value: customVisionAuth
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'CUSTOMVISION_TRAINING_ENDPOINT'
          value: trainingEndpoint
        }
        {
          name: 'CUSTOMVISION_TRAINING_KEY'
          value: keyMode ? '@Microsoft.KeyVault(SecretUri=${trainingKeySecretUri})' : ''
        }
        {
          name: 'CUSTOMVISION_PREDICTION_ENDPOINT'
          value: predictionEndpoint
        }
        {
          name: 'CUSTOMVISION_PREDICTION_KEY'
          value: keyMode ? '@Microsoft.KeyVault(SecretUri=${predictionKeySecretUri})' : ''
        }
        {
          name: 'CUSTOMVISION_PREDICTION_RESOURCE_ID'
          value: predictionResourceId
        }
        {
          name: 'CUSTOMVISION_PROJECT_ID'
          value: projectId
        }
        {
          name: 'CUSTOMVISION_PROJECT_NAME'
          value: projectName
        }
        {
          name: 'CUSTOMVISION_CLASSIFICATION_TYPE'
          value: classificationType
        }
        {
          name: 'CUSTOMVISION_DOMAIN'
          value: domain
        }
        {
          name: 'PUBLISHED_NAME'
          value: publishedName
        }
        {
          name: 'CUSTOMVISION_TIMEOUT_SECONDS'
          value: '30'
        }
        // Classification.
        {
          name: 'CLASSIFIER_MODE'
          value: classifierMode
        }
        {
          name: 'PREDICTION_THRESHOLD'
          value: '0.5'
        }
        {
          name: 'REVIEW_THRESHOLD'
          value: '0.6'
        }
        {
          name: 'PREDICTION_MAX_TPS'
          value: predictionMaxTps
        }
        {
          name: 'QUICKTEST_MAX_TPS'
          value: quickTestMaxTps
        }
        {
          name: 'TRANSIENT_RETRY_SECONDS'
          value: '60'
        }
        {
          name: 'QUICKTEST_MAX_BYTES'
          value: '20971520'
        }
        {
          name: 'QUICKTEST_URL_TIMEOUT_SECONDS'
          value: '10'
        }
        // Retrain.
        {
          name: 'RETRAIN_SCHEDULE'
          value: retrainSchedule
        }
        {
          name: 'TRAINING_TYPE'
          value: 'Regular'
        }
        {
          name: 'TRAINING_BUDGET_HOURS'
          value: '1'
        }
        {
          name: 'RETRAIN_POLL_SECONDS'
          value: '30'
        }
        {
          name: 'GATE_MIN_PRECISION'
          value: '0.8'
        }
        {
          name: 'GATE_MIN_RECALL'
          value: '0.8'
        }
        {
          name: 'GATE_MIN_AP'
          value: '0.8'
        }
        {
          name: 'GATE_TOLERANCE'
          value: '0.02'
        }
        {
          name: 'RETRAIN_STALE_MINUTES'
          value: '120'
        }
        {
          name: 'KEEP_ITERATIONS'
          value: '5'
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

output name string = app.name
output defaultUrl string = 'https://${app.properties.defaultHostName}'
