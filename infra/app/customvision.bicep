// Custom Vision training and prediction accounts. In key mode (authMode 'key') their keys are stored in Key
// Vault and never leave Azure Resource Manager except into it; in identity mode the app signs in with Entra ID
// tokens of its identity (data-plane roles in rbac.bicep), local auth is off and no key is stored. The accounts
// call nothing themselves (no customer-managed keys, no storage of their own), so they have no managed identity.
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
@description('key: the app calls with the keys kept in Key Vault; identity: with Entra ID tokens, keys disabled.')
@allowed([
  'key'
  'identity'
])
param authMode string = 'key'

var keyless = authMode == 'identity'

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
    // checkov:skip=CKV_AZURE_236:Local auth is off in identity mode (authMode); key mode, the default, needs the keys, kept in Key Vault.
    // checkov:skip=CKV_AZURE_238:The account calls no other service (no customer-managed keys, no storage of its own), so a managed identity would go unused.
    customSubDomainName: trainingName
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: keyless
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
    // checkov:skip=CKV_AZURE_236:Local auth is off in identity mode (authMode); key mode, the default, needs the keys, kept in Key Vault.
    // checkov:skip=CKV_AZURE_238:The account calls no other service (no customer-managed keys, no storage of its own), so a managed identity would go unused.
    customSubDomainName: predictionName
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: keyless
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource trainingKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!keyless) {
  parent: vault
  name: 'customvision-training-key'
  properties: {
    // checkov:skip=CKV_AZURE_41:The key is rotated in Custom Vision, not by expiry; an expiry date would break the Key Vault reference silently.
    // checkov:skip=CKV_AZURE_114:False positive: contentType is set below; checkov does not read the body of a conditional resource.
    contentType: 'text/plain'
    value: training.listKeys().key1
  }
}

resource predictionKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!keyless) {
  parent: vault
  name: 'customvision-prediction-key'
  properties: {
    // checkov:skip=CKV_AZURE_41:The key is rotated in Custom Vision, not by expiry; an expiry date would break the Key Vault reference silently.
    // checkov:skip=CKV_AZURE_114:False positive: contentType is set below; checkov does not read the body of a conditional resource.
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
// rotated key when App Service refreshes the reference. Empty in identity mode (no secret).
output trainingKeySecretUri string = keyless ? '' : '${trainingKey.properties.secretUri}/'
output predictionKeySecretUri string = keyless ? '' : '${predictionKey.properties.secretUri}/'
