"""infra/ parses and declares what the pipeline needs, read offline with pycep-parser (no Bicep CLI here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.console.areas import DISCARDED_PREFIX
from shared.settings.declared import SETTINGS
from tests.infra.bicep import (
    INFRA,
    app_settings,
    bicep_files,
    branches,
    dotted,
    function_app,
    module_params,
    only_resource,
    parse,
    property_accessor,
    resources,
)

# Built-in role definition ids, checked against
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles.
BUILT_IN_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "c1ff6cc2-c111-46fe-8896-e0ef812ad9f3": "Cognitive Services Custom Vision Contributor",
    # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning
    "0a5ae4ab-0d65-4eeb-be61-29fc9b54394b": "Cognitive Services Custom Vision Trainer",
    "5c4089e1-6d96-4d2f-b296-c1bc7137275f": "Cognitive Services Custom Vision Deployment",
    # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
}
# The app's identity, in every mode; identity mode adds the Custom Vision roles (KEYLESS_APP_ROLES).
APP_ROLES = {
    "Storage Blob Data Owner",
    "Storage Queue Data Contributor",
    "Storage Table Data Contributor",
    "Key Vault Secrets User",
    "Monitoring Metrics Publisher",
}
KEYLESS_APP_ROLES = {
    "Cognitive Services Custom Vision Contributor",
    "Cognitive Services Custom Vision Trainer",
    "Cognitive Services Custom Vision Deployment",
}


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    tree = parse(path)
    assert tree.get("resources") or tree.get("modules") or tree.get("outputs"), f"{path} declares nothing"


def test_main_modules_point_at_existing_files() -> None:
    for name, module in parse(INFRA / "main.bicep")["modules"].items():
        target = INFRA / module["detail"]["path"]
        assert module["type"] == "local", f"module {name} is not local; offline checks cannot see into it"
        assert target.is_file(), f"module {name} points at missing {target}"


def test_storage_is_entra_only_tls12_https_private() -> None:
    _, storage = only_resource("Microsoft.Storage/storageAccounts")
    props = storage["config"]["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowBlobPublicAccess"] is False


def test_containers_and_queue_match_the_settings_defaults() -> None:
    main = parse(INFRA / "main.bicep")
    containers = main["variables"]["pipelineContainers"]["value"]
    defaults = {s.name: s.default for s in SETTINGS}
    for setting, key in [
        ("IMAGES_CONTAINER", "images"),
        ("RESULTS_CONTAINER", "results"),
        ("REVIEW_CONTAINER", "review"),
        ("TRAINING_CONTAINER", "training"),
        ("PIPELINE_CONTAINER", "pipeline"),
    ]:
        assert containers[key] == defaults[setting], f"{setting}: infra {containers[key]!r} != code default"
    assert main["variables"]["retrainQueueName"]["value"] == defaults["RETRAIN_QUEUE"]

    storage_params = module_params("storage")
    created = {property_accessor(c) or c for c in storage_params["containerNames"]}
    expected = {("pipelineContainers", key) for key in containers} | {"deploymentContainerName"}
    assert created == expected, f"containers created {created} != {expected}"
    assert storage_params["queueNames"] == ["retrainQueueName"]


def test_discarded_review_images_expire_by_a_lifecycle_rule() -> None:
    """The console keeps discarded images for undo and never deletes them; storage does, days later."""
    main = parse(INFRA / "main.bicep")
    params = module_params("storage")
    pipeline = main["variables"]["pipelineContainers"]["value"]["pipeline"]
    prefix = params["discardedPrefix"].replace("${pipelineContainers.pipeline}", pipeline)
    pipeline_default = next(s.default for s in SETTINGS if s.name == "PIPELINE_CONTAINER")
    assert prefix == f"{pipeline_default}/{DISCARDED_PREFIX}"
    assert params["discardRetentionDays"] == "consoleDiscardRetentionDays"
    assert main["parameters"]["consoleDiscardRetentionDays"]["default"] == 30

    _, policy = only_resource("Microsoft.Storage/storageAccounts/managementPolicies")
    [rule] = policy["config"]["properties"]["policy"]["rules"]
    assert (rule["enabled"], rule["type"]) == (True, "Lifecycle")
    assert rule["definition"]["filters"] == {"blobTypes": ["blockBlob"], "prefixMatch": ["discardedPrefix"]}
    assert rule["definition"]["actions"] == {
        "baseBlob": {"delete": {"daysAfterModificationGreaterThan": "discardRetentionDays"}}
    }


def test_flex_consumption_python_311_with_identity_deployment() -> None:
    _, plan = only_resource("Microsoft.Web/serverfarms")
    assert plan["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["config"]["properties"]["reserved"] is True  # Linux

    _, app = function_app()
    config = app["config"]
    assert config["kind"] == "functionapp,linux"
    assert config["identity"]["type"] == "UserAssigned"
    props = config["properties"]
    assert props["httpsOnly"] is True
    assert props["keyVaultReferenceIdentity"] == "identityId"
    flex = props["functionAppConfig"]
    assert flex["runtime"] == {"name": "python", "version": "3.11"}
    storage = flex["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"


def test_identity_based_connections_and_key_vault_references() -> None:
    settings = app_settings()
    for connection in ("AzureWebJobsStorage", "PIPELINE_STORAGE"):
        assert settings[f"{connection}__credential"] == "managedidentity"
        assert settings[f"{connection}__clientId"] == "identityClientId"
        # A blob trigger on __blobServiceUri also needs __queueServiceUri (it uses queues internally).
        assert settings[f"{connection}__blobServiceUri"] == "blobEndpoint"
        assert settings[f"{connection}__queueServiceUri"] == "queueEndpoint"
    # The host's diagnostic events go to a table (as in the azd Flex Consumption template).
    assert settings["AzureWebJobsStorage__tableServiceUri"] == "tableEndpoint"
    # The keys: a Key Vault reference in key mode, nothing in identity mode (the app signs in with tokens).
    path, _ = function_app()
    assert parse(path)["variables"]["keyMode"]["value"] == {
        "operator": {"type": "equals", "operands": {"operand_1": "customVisionAuth", "operand_2": "key"}}
    }
    for key in ("CUSTOMVISION_TRAINING_KEY", "CUSTOMVISION_PREDICTION_KEY"):
        assert settings[key]["operator"]["operands"]["condition"] == "keyMode", key
        reference, keyless = branches(settings[key])
        assert reference.startswith("@Microsoft.KeyVault(SecretUri=${"), f"{key} is not a Key Vault reference"
        assert keyless == "", key
    assert settings["CUSTOMVISION_AUTH"] == "customVisionAuth"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId", "the user-assigned identity's tokens"
    assert settings["CUSTOMVISION_PREDICTION_RESOURCE_ID"] == "predictionResourceId"
    assert "Authorization=AAD" in settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    assert "FUNCTIONS_WORKER_RUNTIME" not in settings, (
        "Flex Consumption takes the runtime from functionAppConfig"
    )


def test_custom_vision_training_and_prediction_accounts() -> None:
    accounts = {
        r["config"]["kind"]: r["config"] for _, _, r in resources("Microsoft.CognitiveServices/accounts")
    }
    assert set(accounts) == {"CustomVision.Training", "CustomVision.Prediction"}
    for kind, config in accounts.items():
        assert config["sku"] == {"name": "skuName"}, kind
        assert config["properties"]["customSubDomainName"], f"{kind} has no custom subdomain"
        assert "identity" not in config, f"{kind}: the account calls nothing, an identity would go unused"
        # Identity mode turns the keys off.
        assert config["properties"]["disableLocalAuth"] == "keyless", kind
    module = parse(INFRA / "app" / "customvision.bicep")
    assert module["variables"]["keyless"]["value"] == {
        "operator": {"type": "equals", "operands": {"operand_1": "authMode", "operand_2": "identity"}}
    }
    # Versionless Key Vault references end with '/', as in Microsoft's examples; none in identity mode.
    for name in ("trainingKeySecretUri", "predictionKeySecretUri"):
        value = module["outputs"][name]["value"]["operator"]
        assert value["type"] == "conditional" and value["operands"]["condition"] == "keyless", name
        assert value["operands"]["true_value"] == ""
        uri = value["operands"]["false_value"]
        assert re.fullmatch(r"\$\{\w+Key\.properties\.secretUri\}/", uri), f"{name} = {uri!r}"
    # Both keys go to Key Vault straight from listKeys() of their account, never through an output, and only
    # in key mode: identity mode stores no key.
    stored = set()
    for path, _, secret in resources("Microsoft.KeyVault/vaults/secrets"):
        if path.name != "customvision.bicep":
            continue
        assert secret["condition"] == {"operator": {"type": "not", "operands": {"bool_value": "keyless"}}}
        account, key = property_accessor(secret["config"]["properties"]["value"])
        assert key == "key1"
        stored.add(account["operator"]["operands"]["operand_1"])
    by_symbol = {
        symbol: r["config"]["kind"] for _, symbol, r in resources("Microsoft.CognitiveServices/accounts")
    }
    assert {by_symbol[symbol] for symbol in stored} == set(accounts)
    for path in bicep_files():
        for name, output in parse(path).get("outputs", {}).items():
            assert "listKeys" not in str(output), f"{path.name} output {name} exposes a key"


def test_key_vault_rbac_and_app_insights_entra_ingestion() -> None:
    _, vault = only_resource("Microsoft.KeyVault/vaults")
    assert vault["config"]["properties"]["enableRbacAuthorization"] is True
    _, insights = only_resource("Microsoft.Insights/components")
    assert insights["config"]["properties"]["DisableLocalAuth"] is True
    assert insights["config"]["properties"]["WorkspaceResourceId"]


def _role_id(path: Path, assignment: dict) -> str:
    node = assignment["config"]["properties"]["roleDefinitionId"]["function"]
    assert node["type"] == "subscription_resource_id"
    assert node["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    name = node["parameters"]["resource_name_1"]
    variables = parse(path)["variables"]
    accessor = property_accessor(name)
    if accessor:
        return variables[accessor[0]]["value"][accessor[1]]
    return variables[name]["value"] if name in variables else name


def test_role_assignments_use_real_built_in_role_ids() -> None:
    assignments = list(resources("Microsoft.Authorization/roleAssignments"))
    assert assignments
    app_roles, keyless_roles = set(), {}
    for path, symbol, assignment in assignments:
        role_id = _role_id(path, assignment)
        assert role_id in BUILT_IN_ROLES, f"{path.name}:{symbol} uses unknown role id {role_id}"
        if assignment["config"]["properties"]["principalId"] == "identityPrincipalId":
            if "keyless" in str(assignment.get("condition")):
                keyless_roles[symbol] = (BUILT_IN_ROLES[role_id], assignment["config"]["scope"])
            else:
                app_roles.add(BUILT_IN_ROLES[role_id])
    assert app_roles == APP_ROLES, f"function identity roles {sorted(app_roles)} != {sorted(APP_ROLES)}"
    assert {role for role, _ in keyless_roles.values()} == KEYLESS_APP_ROLES


def test_identity_mode_gives_the_app_the_custom_vision_roles_its_calls_need() -> None:
    rbac = parse(INFRA / "app" / "rbac.bicep")["resources"]

    def rule(symbol: str) -> tuple[str, str, str]:
        resource = rbac[symbol]["config"]
        condition = resource["condition"]
        return (
            BUILT_IN_ROLES[_role_id(INFRA / "app" / "rbac.bicep", {"config": resource["config"]})],
            (resource["config"]["scope"]),
            str(condition),
        )

    contributor, trainer, deployment = (
        rule(s) for s in ("appTrainingContributor", "appTrainingTrainer", "appPredictionDeployment")
    )
    # The app creates its project when no id is given (Contributor), else Trainer: no create/delete rights.
    assert contributor[:2] == ("Cognitive Services Custom Vision Contributor", "training")
    assert "appCreatesProject" in contributor[2] and "keyless" in contributor[2]
    assert trainer[:2] == ("Cognitive Services Custom Vision Trainer", "training")
    assert "'not'" in trainer[2] and "appCreatesProject" in trainer[2]
    # Classify and receive published iterations on the prediction account.
    assert deployment[:2] == ("Cognitive Services Custom Vision Deployment", "prediction")
    params = module_params("rbac")
    # localvision takes keys: the self-hosted backend signs in with keys whatever CUSTOMVISION_AUTH says.
    assert params["customVisionAuth"] == "appCustomVisionAuth"
    assert parse(INFRA / "main.bicep")["variables"]["appCustomVisionAuth"]["value"] == {
        "operator": {
            "type": "conditional",
            "operands": {"condition": "selfhosted", "true_value": "key", "false_value": "customVisionAuth"},
        }
    }
    assert params["appCreatesProject"] == {
        "function": {"type": "empty", "parameters": {"item_to_test": "customVisionProjectId"}}
    }


def test_user_roles_are_optional() -> None:
    user = [
        (symbol, assignment)
        for _, symbol, assignment in resources("Microsoft.Authorization/roleAssignments")
        if assignment["config"]["properties"]["principalId"] == "userPrincipalId"
    ]
    assert user, "the deploying user gets data access when principalId is given"
    for symbol, assignment in user:
        condition = assignment.get("condition", {}).get("operator", {})
        if condition.get("type") == "and":  # the Custom Vision roles: only where the accounts exist
            assert condition["operands"]["operand_1"] == "customVisionAccounts", symbol
            condition = condition["operands"]["operand_2"]["operator"]
        assert condition.get("type") == "not", f"{symbol} must be conditional on a non-empty principalId"
        assert condition["operands"]["bool_value"]["function"]["parameters"] == {
            "item_to_test": "userPrincipalId"
        }


def test_event_grid_system_topic_on_the_storage_account() -> None:
    _, topic = only_resource("Microsoft.EventGrid/systemTopics")
    props = topic["config"]["properties"]
    assert props["topicType"] == "Microsoft.Storage.StorageAccounts"
    assert property_accessor(props["source"]) == ("storage", "id")
    assert topic["config"]["identity"]["type"] == "SystemAssigned", (
        "dead-lettering needs the topic's identity"
    )


# What `bicep build` would check across files, done here because it cannot run offline.
def test_modules_get_exactly_their_parameters() -> None:
    for name, module in parse(INFRA / "main.bicep")["modules"].items():
        declared = parse(INFRA / module["detail"]["path"]).get("parameters", {})
        passed = set(module_params(name))
        assert passed <= set(declared), f"module {name}: unknown parameters {sorted(passed - set(declared))}"
        required = {p for p, spec in declared.items() if "default" not in spec}
        assert required <= passed, f"module {name}: missing parameters {sorted(required - passed)}"


def test_module_outputs_and_abbreviations_that_main_uses_exist() -> None:
    main_text = (INFRA / "main.bicep").read_text()
    modules = parse(INFRA / "main.bicep")["modules"]
    for module, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", main_text):
        outputs = parse(INFRA / modules[module]["detail"]["path"])["outputs"]
        assert output in outputs, (
            f"main.bicep uses {module}.outputs.{output}, which the module does not declare"
        )
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    for key in re.findall(r"\babbrs\.(\w+)", main_text):
        assert key in abbreviations, f"abbreviations.json has no {key}"


def test_diagnostic_settings_cover_every_resource_that_logs() -> None:
    """Storage (blob, queue), Key Vault, both Custom Vision accounts and the Event Grid system topic send
    their logs to the workspace; without them delivery failures and secret access are invisible."""
    tree = parse(INFRA / "core" / "diagnostics.bicep")
    scopes = set()
    for _, symbol, setting in resources("Microsoft.Insights/diagnosticSettings"):
        props = setting["config"]["properties"]
        assert props["workspaceId"] == "workspaceId", symbol
        assert props["logs"] == "allLogs", f"{symbol} does not send every log category"
        scopes.add(dotted(setting["config"]["scope"]))
    expected = {"storage::blobService", "storage::queueService", "vault", "topic", "training", "prediction"}
    assert expected <= scopes, f"no diagnostic setting on {sorted(expected - scopes)}"
    kinds = {
        symbol: tree["resources"][symbol]["type"] for symbol in ("vault", "topic", "training", "prediction")
    }
    assert kinds == {
        "vault": "Microsoft.KeyVault/vaults",
        "topic": "Microsoft.EventGrid/systemTopics",
        "training": "Microsoft.CognitiveServices/accounts",
        "prediction": "Microsoft.CognitiveServices/accounts",
    }
    assert tree["variables"]["allLogs"]["value"] == [{"categoryGroup": "allLogs", "enabled": True}]
    params = module_params("diagnostics")
    assert dotted(params["workspaceId"]) == "monitoring.outputs.workspaceId"
    assert params["trainingAccountName"] == "trainingAccountName"
    assert params["customVisionAccounts"] == {
        "operator": {"type": "not", "operands": {"bool_value": "selfhosted"}}
    }
    assert dotted(params["containerAppsEnvironmentName"]) == "localvision.outputs.environmentName"
    assert dotted(params["registryName"]) == "localvision.outputs.registryName"
    assert dotted(params["systemTopicName"]) == "eventGrid.outputs.name"


def test_the_deploying_principal_comes_from_deployer_unless_set() -> None:
    main = parse(INFRA / "main.bicep")
    assert main["parameters"]["principalId"]["default"] == ""
    condition = main["variables"]["userPrincipalId"]["value"]["operator"]
    assert condition["type"] == "conditional"
    assert condition["operands"]["condition"]["function"]["parameters"] == {"item_to_test": "principalId"}
    assert dotted(condition["operands"]["true_value"]) == "deployingPrincipal.outputs.objectId"
    assert condition["operands"]["false_value"] == "principalId"
    deployer = parse(INFRA / main["modules"]["deployingPrincipal"]["detail"]["path"])
    assert dotted(deployer["outputs"]["objectId"]["value"]) == "deployer().objectId"
    assert module_params("rbac")["userPrincipalId"] == "userPrincipalId"


def test_both_custom_vision_accounts_default_to_s0() -> None:
    main = parse(INFRA / "main.bicep")
    assert main["parameters"]["customVisionSku"]["default"] == "S0"
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["customVisionSku"]["value"] == "${CUSTOM_VISION_SKU=S0}"
    assert module_params("customVision")["skuName"] == "customVisionSku"
