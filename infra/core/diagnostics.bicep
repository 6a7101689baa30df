// Diagnostic settings: every resource that logs what the pipeline cannot see itself sends its logs and metrics
// to the Log Analytics workspace: blob and queue operations (403s, throttling), Key Vault secret access,
// Custom Vision requests, Event Grid delivery failures, and (self-hosted backend) the Container Apps
// environment and the registry. The Custom Vision accounts only when they are deployed (customVisionAccounts).
param workspaceId string
param storageAccountName string
param keyVaultName string
param systemTopicName string
@description('Whether the Custom Vision accounts exist (VISION_BACKEND=customvision).')
param customVisionAccounts bool
param trainingAccountName string
param predictionAccountName string
param containerAppsEnvironmentName string
param registryName string

var name = 'to-log-analytics'
var allLogs = [
  {
    categoryGroup: 'allLogs'
    enabled: true
  }
]
var allMetrics = [
  {
    category: 'AllMetrics'
    enabled: true
  }
]
// Storage services publish their metrics under 'Transaction' (and 'Capacity' on the account).
var transactionMetrics = [
  {
    category: 'Transaction'
    enabled: true
  }
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'
  }

  resource queueService 'queueServices' existing = {
    name: 'default'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource training 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: trainingAccountName
}

resource prediction 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: predictionAccountName
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' existing = {
  name: containerAppsEnvironmentName
}

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' existing = {
  name: registryName
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: storage::blobService
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: transactionMetrics
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: storage::queueService
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: transactionMetrics
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}

resource topicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: topic
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}

resource trainingDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (customVisionAccounts) {
  name: name
  scope: training
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}

resource predictionDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (customVisionAccounts) {
  name: name
  scope: prediction
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}

resource environmentDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: environment
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}

resource registryDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: registry
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}
