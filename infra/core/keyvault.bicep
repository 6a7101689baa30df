// Key Vault for the Custom Vision keys, RBAC mode; the app reads them through Key Vault references.
param name string
param location string
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // checkov:skip=CKV_AZURE_109:App Service Key Vault references from an app without VNet integration resolve over the public endpoint; access is RBAC only.
    // checkov:skip=CKV_AZURE_189:Same reason as CKV_AZURE_109.
    // checkov:skip=CKV_AZURE_110:Purge protection would block `azd down --purge` for the retention period; soft delete stays on.
    // checkov:skip=CKV_AZURE_42:Checkov counts a vault as recoverable only with purge protection (see CKV_AZURE_110); soft delete is on.
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
