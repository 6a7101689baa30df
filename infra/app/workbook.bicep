// An Azure Monitor workbook over the app's OpenTelemetry spans in Application Insights (docs/telemetry.md):
// throughput, review share, failures by reason, p95 latency, the slowest images and the retrain history.
// Its queries are in workbook.json (tests/infra/test_workbook.py checks them against the span names and
// attributes the code emits).
param location string
param tags object = {}
param appInsightsName string
@description('The name shown in the portal (Monitor > Workbooks, and the Application Insights resource\'s Workbooks).')
param displayName string = 'Image pipeline'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, appInsightsName, 'image-pipeline-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: loadTextContent('workbook.json')
  }
}

output id string = workbook.id
