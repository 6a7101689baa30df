// Custom Vision training and prediction accounts, with their keys stored in Key Vault.
// The SDK the app uses (azure-cognitiveservices-vision-customvision) authenticates with keys, so local auth
// stays on; the keys never leave Azure Resource Manager except into Key Vault. The accounts call nothing
// themselves (no customer-managed keys, no storage of their own), so they have no managed identity.
param trainingName string
param predictionName string
param location string
param tags object = {}
@allowed([
  'F0'
  'S0'
])
param skuName string
param keyVaultName string

resource training 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: trainingName
  location: location
  tags: tags
  kind: 'CustomVision.Training'
  sku: {
    name: skuName
  }
  properties: {
    // checkov:skip=CKV_AZURE_134:Flex Consumption without VNet integration calls Custom Vision over its public endpoint.
    // checkov:skip=CKV_AZURE_236:The Custom Vision SDK (3.1.1) and the customvision.ai portal use keys; they are kept in Key Vault.
    // checkov:skip=CKV_AZURE_238:The account calls no other service (no customer-managed keys, no storage of its own), so a managed identity would go unused.
    customSubDomainName: trainingName
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: false
  }
}

resource prediction 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: predictionName
  location: location
  tags: tags
  kind: 'CustomVision.Prediction'
  sku: {
    name: skuName
  }
  properties: {
    // checkov:skip=CKV_AZURE_134:Flex Consumption without VNet integration calls Custom Vision over its public endpoint.
    // checkov:skip=CKV_AZURE_236:The Custom Vision SDK (3.1.1) and the customvision.ai portal use keys; they are kept in Key Vault.
    // checkov:skip=CKV_AZURE_238:The account calls no other service (no customer-managed keys, no storage of its own), so a managed identity would go unused.
    customSubDomainName: predictionName
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: false
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource trainingKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'customvision-training-key'
  properties: {
    // checkov:skip=CKV_AZURE_41:The key is rotated in Custom Vision, not by expiry; an expiry date would break the Key Vault reference silently.
    contentType: 'text/plain'
    value: training.listKeys().key1
  }
}

resource predictionKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'customvision-prediction-key'
  properties: {
    // checkov:skip=CKV_AZURE_41:The key is rotated in Custom Vision, not by expiry; an expiry date would break the Key Vault reference silently.
    contentType: 'text/plain'
    value: prediction.listKeys().key1
  }
}

output trainingName string = training.name
output predictionName string = prediction.name
output trainingEndpoint string = training.properties.endpoint
output predictionEndpoint string = prediction.properties.endpoint
output predictionResourceId string = prediction.id
// Versionless URIs, with the trailing '/' of Microsoft's Key Vault reference examples: the app picks up a
// rotated key when App Service refreshes the reference.
output trainingKeySecretUri string = '${trainingKey.properties.secretUri}/'
output predictionKeySecretUri string = '${predictionKey.properties.secretUri}/'
