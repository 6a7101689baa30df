// Role assignments of the function app's identity and, optionally, of the deploying user.
// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
param storageAccountName string
param keyVaultName string
param appInsightsName string
param trainingAccountName string
param predictionAccountName string
@description('Principal id of the function app\'s user-assigned identity.')
param identityPrincipalId string
@description('Object id of the deploying user or principal; empty: no assignment.')
param userPrincipalId string = ''
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param userPrincipalType string = 'User'
@description('identity: the app calls Custom Vision with Entra ID tokens of its identity and gets data-plane roles.')
@allowed([
  'key'
  'identity'
])
param customVisionAuth string = 'key'
@description('Whether the app may create its Custom Vision project (no project id given): Contributor, else Trainer.')
param appCreatesProject bool = true
@description('Whether the Custom Vision accounts exist (VISION_BACKEND=customvision).')
param customVisionAccounts bool = true

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Custom Vision data-plane roles, from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning
  // (what each may do: https://learn.microsoft.com/azure/ai-services/custom-vision-service/role-based-access-control).
  customVisionContributor: 'c1ff6cc2-c111-46fe-8896-e0ef812ad9f3'
  customVisionTrainer: '0a5ae4ab-0d65-4eeb-be61-29fc9b54394b'
  customVisionDeployment: '5c4089e1-6d96-4d2f-b296-c1bc7137275f'
}
var keyless = customVisionAccounts && customVisionAuth == 'identity'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource training 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: trainingAccountName
}

resource prediction 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: predictionAccountName
}

// The host and the blob trigger: blobs (receipts, leases, deployment package, pipeline containers) and
// queues (the trigger's internal queue, retrain, poison queues).
resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The host's diagnostic events table (AzureWebJobsStorage__tableServiceUri).
resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault references: the Custom Vision keys in key mode, localvision's keys with the self-hosted backend.
resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry ingestion with Entra ID (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Identity mode: the app's own calls to Custom Vision. Training account: find or create the project, upload
// and tag images, train, publish, export, delete old iterations: Custom Vision Contributor when the app may
// create the project, else Trainer (everything but creating or deleting projects). Prediction account:
// classify and receive published iterations: Custom Vision Deployment (classify/*, iterations/publish/*).
resource appTrainingContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (keyless && appCreatesProject) {
  name: guid(training.id, identityPrincipalId, roles.customVisionContributor)
  scope: training
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.customVisionContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appTrainingTrainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (keyless && !appCreatesProject) {
  name: guid(training.id, identityPrincipalId, roles.customVisionTrainer)
  scope: training
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.customVisionTrainer)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appPredictionDeployment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (keyless) {
  name: guid(prediction.id, identityPrincipalId, roles.customVisionDeployment)
  scope: prediction
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.customVisionDeployment)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The deploying user: upload training images, read results (az storage ... --auth-mode login), send to the
// retrain queue, read the keys for a local run against Azure, and open the projects on customvision.ai
// (the portal signs in with Entra ID, hence Custom Vision Contributor for the user, not for the app).
resource userBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userTrainingContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (customVisionAccounts && !empty(userPrincipalId)) {
  name: guid(training.id, userPrincipalId, roles.customVisionContributor)
  scope: training
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.customVisionContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userPredictionContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (customVisionAccounts && !empty(userPrincipalId)) {
  name: guid(prediction.id, userPrincipalId, roles.customVisionContributor)
  scope: prediction
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.customVisionContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}
