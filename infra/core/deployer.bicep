// Who runs the deployment (azd's signed-in user or service principal), as Bicep's deployer() sees it: the
// fallback when azd could not resolve AZURE_PRINCIPAL_ID. A module of its own because checkov's Bicep parser
// cannot read deployer(); it declares no resource, so checkov skips it (tests/infra/test_checkov.py).
output objectId string = deployer().objectId
