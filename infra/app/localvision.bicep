// localvision, the project's Custom Vision-compatible server, as a container app: the pipeline's backend when
// VISION_BACKEND=selfhosted, and ready (scaled to zero, idle at no cost) otherwise. azd builds its image in the
// registry (azure.yaml, service localvision, docker.remoteBuild) and deploys it to the app tagged
// azd-service-name=localvision. State (projects, images, iterations, exports, signing key) lives in a blob
// container of the pipeline's storage account, reached with the app's own user-assigned identity (no shared
// keys); its two keys are Key Vault secrets the app reads as Container Apps secrets and the Function app as
// Key Vault references.
param location string
param tags object = {}
param registryName string
param environmentName string
param appName string
param identityName string
param storageAccountName string
param keyVaultName string
@description('Blob container of localvision\'s state in the storage account.')
param stateContainerName string
@description('The image azd deployed last (SERVICE_LOCALVISION_IMAGE_NAME); empty before the first deploy.')
param image string = ''
@description('Replicas kept running: 1 when localvision is the pipeline\'s backend, 0 (scale to zero) when idle.')
@minValue(0)
@maxValue(1)
param minReplicas int = 1
@description('vCPU of the container (Consumption: 0.25 steps to 2, memory 2 GiB per vCPU).')
param cpu string = '1.0'
param memory string = '2Gi'
@secure()
param trainingKey string
@secure()
param predictionKey string

var port = 8080
// Before the first `azd deploy` there is no image of ours in the registry: a public placeholder holds the
// revision (unhealthy on /health until azd deploys localvision; the next provision keeps azd's image).
var placeholder = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'
var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  name: registryName
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    // checkov:skip=CKV_AZURE_139:azd builds and pushes over the registry's public endpoint (remote build); pulls use the app's identity, the admin user is off.
    // checkov:skip=CKV_AZURE_163:Vulnerability scanning is Defender for Containers, a subscription-level choice outside this template.
    // checkov:skip=CKV_AZURE_166:Quarantine needs the Premium tier and a scanner; the only image is the one azd builds here.
    // checkov:skip=CKV_AZURE_233:Zone redundancy needs the Premium tier; a lost registry only delays the next deploy.
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    // Logs go to the Log Analytics workspace through a diagnostic setting (core/diagnostics.bicep): no
    // workspace shared key in the template.
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'
  }
}

resource stateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: storage::blobService
  name: stateContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource trainingKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'localvision-training-key'
  properties: {
    // checkov:skip=CKV_AZURE_41:Generated once by azd and kept (secretOrRandomPassword); an expiry date would break both readers silently.
    contentType: 'text/plain'
    value: trainingKey
  }
}

resource predictionKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'localvision-prediction-key'
  properties: {
    // checkov:skip=CKV_AZURE_41:Generated once by azd and kept (secretOrRandomPassword); an expiry date would break both readers silently.
    contentType: 'text/plain'
    value: predictionKey
  }
}

// The identity pulls the image, reads its two secrets (not the vault's other secrets) and keeps its state in
// its own container (not the pipeline's).
resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource stateContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stateContainer.id, identity.id, roles.storageBlobDataContributor)
  scope: stateContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource trainingKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(trainingKeySecret.id, identity.id, roles.keyVaultSecretsUser)
  scope: trainingKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource predictionKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(predictionKeySecret.id, identity.id, roles.keyVaultSecretsUser)
  scope: predictionKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource app 'Microsoft.App/containerApps@2025-01-01' = {
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'localvision'
  })
  // The roles first: the first revision pulls with AcrPull and reads both secrets at start.
  dependsOn: [
    acrPull
    trainingKeyReader
    predictionKeyReader
    stateContributor
  ]
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    environmentId: environment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        // The Function app (no VNet) calls it over HTTPS; every call carries a key.
        external: true
        targetPort: port
        transport: 'auto'
        allowInsecure: false
      }
      registries: [
        {
          server: registry.properties.loginServer
          identity: identity.id
        }
      ]
      secrets: [
        {
          name: 'training-key'
          keyVaultUrl: '${vault.properties.vaultUri}secrets/${trainingKeySecret.name}'
          identity: identity.id
        }
        {
          name: 'prediction-key'
          keyVaultUrl: '${vault.properties.vaultUri}secrets/${predictionKeySecret.name}'
          identity: identity.id
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'localvision'
          image: empty(image) ? placeholder : image
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          env: [
            {
              name: 'LOCALVISION_HOST'
              value: '0.0.0.0'
            }
            {
              name: 'LOCALVISION_PORT'
              value: string(port)
            }
            {
              name: 'LOCALVISION_TRAINING_KEY'
              secretRef: 'training-key'
            }
            {
              name: 'LOCALVISION_PREDICTION_KEY'
              secretRef: 'prediction-key'
            }
            // A cache that can be lost at any time; the state is in the blob container.
            {
              name: 'LOCALVISION_DATA'
              value: '/tmp/localvision'
            }
            {
              name: 'LOCALVISION_STORE'
              value: 'blob'
            }
            {
              name: 'LOCALVISION_BLOB_CONTAINER'
              value: stateContainerName
            }
            {
              name: 'LOCALVISION_BLOB_ACCOUNT_URL'
              value: storage.properties.primaryEndpoints.blob
            }
            // azure-identity's DefaultAzureCredential signs in as this user-assigned identity.
            {
              name: 'AZURE_CLIENT_ID'
              value: identity.properties.clientId
            }
          ]
          probes: [
            {
              type: 'Startup'
              httpGet: {
                path: '/health'
                port: port
              }
              periodSeconds: 5
              failureThreshold: 24
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: port
              }
              periodSeconds: 10
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/health'
                port: port
              }
              periodSeconds: 30
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        // One writer of the state at a time.
        maxReplicas: 1
      }
    }
  }
}

output name string = app.name
output url string = 'https://${app.properties.configuration.ingress.fqdn}'
// What the pipeline publishes to (CUSTOMVISION_PREDICTION_RESOURCE_ID): localvision takes any id of the
// Cognitive Services account shape the app's settings require; no such account exists.
output predictionResourceId string = '${resourceGroup().id}/providers/Microsoft.CognitiveServices/accounts/${appName}'
output registryName string = registry.name
output registryEndpoint string = registry.properties.loginServer
output environmentName string = environment.name
output trainingKeySecretUri string = '${trainingKeySecret.properties.secretUri}/'
output predictionKeySecretUri string = '${predictionKeySecret.properties.secretUri}/'
