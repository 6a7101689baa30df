// Entry point of `azd provision`: one resource group holding the pipeline's storage, the Flex Consumption
// function app, Custom Vision training and prediction, Key Vault, monitoring and the Event Grid system topic.
// The Event Grid subscription is created by scripts/postdeploy.* (it needs a key that exists only once the
// deployed code runs).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used in the resource group name and to derive unique resource names.')
param environmentName string

// The regions that offer both Custom Vision (training and prediction) and Flex Consumption, so that the first
// prompt of `azd up` cannot pick a region where one of them fails. Sources (re-check when adding a region):
// - Custom Vision: Azure products by region (https://azure.microsoft.com/explore/global-infrastructure/products-by-region/,
//   "Azure AI Custom Vision"); `az cognitiveservices account list-skus --kind CustomVision.Training --location <region>`.
// - Flex Consumption: the @allowed list of Microsoft's Flex Consumption azd templates (Azure-Samples
//   functions-quickstart-*-azd, infra/main.bicep); `az functionapp list-flexconsumption-locations`.
// Every Custom Vision region is also a Flex Consumption region, so the list is Custom Vision's.
// tests/infra/azure_rules.py holds both lists and checks this one is their intersection.
@minLength(1)
@description('Region of every resource: one that offers both Custom Vision and Flex Consumption.')
@allowed([
  'australiaeast'
  'centralindia'
  'eastus'
  'eastus2'
  'japaneast'
  'northcentralus'
  'northeurope'
  'southcentralus'
  'southeastasia'
  'uksouth'
  'westeurope'
  'westus2'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Custom Vision pricing tier of both accounts: S0, or F0 (free: 2 predictions per second, 10,000 per month, 2 projects; one free account of each kind per subscription, which the preprovision hook checks).')
@allowed([
  'F0'
  'S0'
])
param customVisionSku string = 'S0'

@description('How the app signs in to Custom Vision: key (the accounts\' keys, kept in Key Vault) or identity (Entra ID tokens of the app\'s identity with Custom Vision data-plane roles; local auth off, no key stored).')
@allowed([
  'key'
  'identity'
])
param customVisionAuth string = 'key'

@description('Object id of the user or service principal running the deployment; gets data access to storage, Key Vault and Custom Vision. Empty: whoever runs the deployment (deployer()).')
param principalId string = ''

@description('Kind of principal `principalId` is.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Existing Custom Vision project id; empty: the app finds or creates the project by name.')
param customVisionProjectId string = ''

@description('Custom Vision project the app finds or creates when no id is given.')
param customVisionProjectName string = 'Classify Fruit'

@description('Domain of a project the app creates (General, Food, Landmarks, Retail, ...).')
param customVisionDomain string = 'Food'

@description('Name the trained model is published under and called by.')
param publishedName string = 'fruit-classifier'

@description('Six-field NCRONTAB schedule (UTC) of the scheduled retrain.')
param retrainSchedule string = '0 0 3 * * *'

@description('Blob storage redundancy. Standard_ZRS where the region offers it for zone resilience.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param storageSku string = 'Standard_LRS'

@description('Days a review image discarded in the console is kept (for undo) before storage deletes it.')
@minValue(1)
param consoleDiscardRetentionDays int = 30

var abbrs = loadJsonContent('./abbreviations.json')
// Rate budget: the prediction tier decides how far the app scales out and how many prediction calls per
// second each instance makes. Flex Consumption applies maximumInstanceCount to each scale group: the blob
// trigger's instances and the HTTP functions' (the quick test) count apart, so instances x (pipeline limit
// + quick-test limit) stays within the account's rate (docs/deploy.md, "Rate budget"). One table, read by
// the tests and the benchmark too.
var rateBudgets = loadJsonContent('./rate-budget.json')
var rateBudget = rateBudgets[customVisionSku]
var userPrincipalId = empty(principalId) ? deployingPrincipal.outputs.objectId : principalId
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
// Flex Consumption reads the deployment package from this container (not a pipeline container).
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var pipelineContainers = {
  images: 'images'
  results: 'results'
  review: 'review'
  training: 'training'
  pipeline: 'pipeline'
  deadLetter: 'eventgrid-deadletter'
}
var retrainQueueName = 'retrain'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module deployingPrincipal 'core/deployer.bicep' = {
  name: 'deployer'
  scope: rg
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}func-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    skuName: storageSku
    containerNames: [
      deploymentContainerName
      pipelineContainers.images
      pipelineContainers.results
      pipelineContainers.review
      pipelineContainers.training
      pipelineContainers.pipeline
      pipelineContainers.deadLetter
    ]
    queueNames: [
      retrainQueueName
    ]
    // shared/console/areas.py DISCARDED_PREFIX, in the pipeline container
    discardedPrefix: '${pipelineContainers.pipeline}/console/discarded/'
    discardRetentionDays: consoleDiscardRetentionDays
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    appInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

module customVision 'app/customvision.bicep' = {
  name: 'customvision'
  scope: rg
  params: {
    trainingName: '${abbrs.cognitiveServicesCustomVisionTraining}${resourceToken}'
    predictionName: '${abbrs.cognitiveServicesCustomVisionPrediction}${resourceToken}'
    location: location
    tags: tags
    skuName: customVisionSku
    keyVaultName: keyVault.outputs.name
    authMode: customVisionAuth
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  // Roles first, so that the host's first start can reach storage, Key Vault and App Insights.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    deploymentContainerName: deploymentContainerName
    tableEndpoint: storage.outputs.tableEndpoint
    maximumInstanceCount: rateBudget.maximumInstanceCount
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    imagesContainer: pipelineContainers.images
    resultsContainer: pipelineContainers.results
    reviewContainer: pipelineContainers.review
    trainingContainer: pipelineContainers.training
    pipelineContainer: pipelineContainers.pipeline
    retrainQueue: retrainQueueName
    trainingEndpoint: customVision.outputs.trainingEndpoint
    trainingKeySecretUri: customVision.outputs.trainingKeySecretUri
    predictionEndpoint: customVision.outputs.predictionEndpoint
    predictionKeySecretUri: customVision.outputs.predictionKeySecretUri
    predictionResourceId: customVision.outputs.predictionResourceId
    projectId: customVisionProjectId
    projectName: customVisionProjectName
    domain: customVisionDomain
    publishedName: publishedName
    retrainSchedule: retrainSchedule
    predictionMaxTps: string(rateBudget.predictionMaxTps)
    quickTestMaxTps: string(rateBudget.quickTestMaxTps)
    customVisionAuth: customVisionAuth
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    trainingAccountName: customVision.outputs.trainingName
    predictionAccountName: customVision.outputs.predictionName
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: userPrincipalId
    userPrincipalType: principalType
    customVisionAuth: customVisionAuth
    appCreatesProject: empty(customVisionProjectId)
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: '${abbrs.eventGridSystemTopics}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deadLetterContainerName: pipelineContainers.deadLetter
  }
}

module diagnostics 'core/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: rg
  params: {
    workspaceId: monitoring.outputs.workspaceId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    systemTopicName: eventGrid.outputs.name
    trainingAccountName: customVision.outputs.trainingName
    predictionAccountName: customVision.outputs.predictionName
  }
}

// Outputs become azd environment values (azd env get-values), read by scripts/postdeploy.*.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_PIPELINE_BASE_URL string = functionApp.outputs.defaultUrl
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_ACCOUNT_ID string = storage.outputs.id
output IMAGES_CONTAINER string = pipelineContainers.images
output RESULTS_CONTAINER string = pipelineContainers.results
output TRAINING_CONTAINER string = pipelineContainers.training
output EVENTGRID_DEADLETTER_CONTAINER string = pipelineContainers.deadLetter
output EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output CLASSIFY_FUNCTION_NAME string = 'classify'
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output CUSTOMVISION_TRAINING_ENDPOINT string = customVision.outputs.trainingEndpoint
output CUSTOMVISION_PREDICTION_ENDPOINT string = customVision.outputs.predictionEndpoint
output CUSTOMVISION_PREDICTION_RESOURCE_ID string = customVision.outputs.predictionResourceId
output FUNCTION_MAXIMUM_INSTANCE_COUNT int = rateBudget.maximumInstanceCount
output PREDICTION_MAX_TPS string = string(rateBudget.predictionMaxTps)
output QUICKTEST_MAX_TPS string = string(rateBudget.quickTestMaxTps)
