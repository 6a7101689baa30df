"""The two Custom Vision backends infra/ deploys (VISION_BACKEND), and localvision's container app.

main.bicep is read offline and its few backend decisions are worked out for each mode: which modules run,
where the Function app's Custom Vision settings point, which keys it reads, who gets which role.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.settings.definitions import SETTINGS
from tests.infra.bicep import INFRA, dotted, module_params, parse, resources

LOCALVISION = INFRA / "app" / "localvision.bicep"
# The environment localvision reads (its interface), and the ones that must come from secrets.
LOCALVISION_ENV = {
    "LOCALVISION_HOST",
    "LOCALVISION_PORT",
    "LOCALVISION_TRAINING_KEY",
    "LOCALVISION_PREDICTION_KEY",
    "LOCALVISION_DATA",
    "LOCALVISION_STORE",
    "LOCALVISION_BLOB_CONTAINER",
    "LOCALVISION_BLOB_ACCOUNT_URL",
    "AZURE_CLIENT_ID",
}
SECRET_ENV = {"LOCALVISION_TRAINING_KEY": "training-key", "LOCALVISION_PREDICTION_KEY": "prediction-key"}


def resolve(node: Any, names: dict[str, Any]) -> Any:
    """A main.bicep value for known variables: conditionals, not, comparisons; other nodes as dotted text."""
    if isinstance(node, str):
        return names.get(node, node)
    if isinstance(node, dict) and "operator" in node:
        operator, operands = node["operator"]["type"], node["operator"]["operands"]
        if operator == "conditional":
            branch = "true_value" if resolve(operands["condition"], names) else "false_value"
            return resolve(operands[branch], names)
        if operator == "not":
            return not resolve(operands["bool_value"], names)
        if operator == "equals":
            return resolve(operands["operand_1"], names) == resolve(operands["operand_2"], names)
    return node if isinstance(node, (int, bool)) else dotted(node)


def mode(backend: str, auth: str = "key") -> dict[str, Any]:
    main = parse(INFRA / "main.bicep")
    names: dict[str, Any] = {"visionBackend": backend, "customVisionAuth": auth}
    for variable in ("selfhosted", "appCustomVisionAuth"):
        names[variable] = resolve(main["variables"][variable]["value"], names)
    return names


def test_the_backend_is_an_azd_choice_with_customvision_by_default() -> None:
    main = parse(INFRA / "main.bicep")
    parameter = main["parameters"]["visionBackend"]
    assert parameter["default"] == "customvision"
    assert {"customvision", "selfhosted"} == set(
        next(d["argument"] for d in parameter["decorators"] if d["type"] == "allowed")
    )
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["visionBackend"]["value"] == "${VISION_BACKEND=customvision}"
    assert main["outputs"]["VISION_BACKEND"]["value"] == "visionBackend", "a provision records the choice"


@pytest.mark.parametrize("backend", ["customvision", "selfhosted"])
def test_each_backend_deploys_its_accounts_and_points_the_app_at_them(backend: str) -> None:
    names = mode(backend)
    main = parse(INFRA / "main.bicep")
    custom_vision = resolve(main["modules"]["customVision"]["config"]["condition"], names)
    assert custom_vision is (backend == "customvision"), "selfhosted creates no Cognitive Services account"
    app = module_params("functionApp")
    expected = "localvision" if backend == "selfhosted" else "customVision"
    for setting, output in [
        ("trainingEndpoint", "url" if backend == "selfhosted" else "trainingEndpoint"),
        ("predictionEndpoint", "url" if backend == "selfhosted" else "predictionEndpoint"),
        ("trainingKeySecretUri", "trainingKeySecretUri"),
        ("predictionKeySecretUri", "predictionKeySecretUri"),
        ("predictionResourceId", "predictionResourceId"),
    ]:
        assert resolve(app[setting], names) == f"{expected}.outputs.{output}", setting
    # rbac and diagnostics always get well-formed account names and act on the accounts only when they are
    # deployed (after them).
    main_modules = parse(INFRA / "main.bicep")["modules"]
    for module in ("rbac", "diagnostics"):
        params = module_params(module)
        assert resolve(params["customVisionAccounts"], names) is (backend == "customvision"), module
        assert (params["trainingAccountName"], params["predictionAccountName"]) == (
            "trainingAccountName",
            "predictionAccountName",
        )
        assert main_modules[module]["config"]["dependsOn"] == ["customVision"], module
    # localvision runs in both modes: one replica as the backend, scaled to zero (no cost) otherwise.
    assert resolve(module_params("localvision")["minReplicas"], names) == (
        1 if backend == "selfhosted" else 0
    )
    for output in ("CUSTOMVISION_TRAINING_ENDPOINT", "CUSTOMVISION_PREDICTION_ENDPOINT"):
        assert resolve(main["outputs"][output]["value"], names).startswith(expected), output


@pytest.mark.parametrize(
    ("backend", "auth", "app_auth"),
    [
        ("customvision", "key", "key"),
        ("customvision", "identity", "identity"),
        ("selfhosted", "key", "key"),
        ("selfhosted", "identity", "key"),
    ],
)
def test_localvision_takes_keys_whatever_the_auth_choice(backend: str, auth: str, app_auth: str) -> None:
    names = mode(backend, auth)
    assert names["appCustomVisionAuth"] == app_auth
    assert module_params("functionApp")["customVisionAuth"] == "appCustomVisionAuth"
    assert module_params("rbac")["customVisionAuth"] == "appCustomVisionAuth"


def test_classifier_mode_and_domain_are_azd_choices_onnx_on_a_compact_domain_by_default() -> None:
    main = parse(INFRA / "main.bicep")
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert main["parameters"]["classifierMode"]["default"] == "onnx"
    assert parameters["classifierMode"]["value"] == "${CLASSIFIER_MODE=onnx}"
    assert main["parameters"]["customVisionDomain"]["default"] == "Food (compact)"
    assert parameters["customVisionDomain"]["value"] == "${CUSTOMVISION_DOMAIN=Food (compact)}"
    app = module_params("functionApp")
    assert (app["classifierMode"], app["domain"]) == ("classifierMode", "customVisionDomain")
    function = parse(INFRA / "app" / "function.bicep")
    settings = {
        e["name"]: e["value"]
        for e in next(r["config"] for _, s, r in resources("Microsoft.Web/sites") if s == "app")[
            "properties"
        ]["siteConfig"]["appSettings"]
    }
    assert settings["CLASSIFIER_MODE"] == "classifierMode", "no longer hard-coded"
    assert settings["CUSTOMVISION_DOMAIN"] == "domain"
    assert function["parameters"]["domain"]["default"] == "Food (compact)"
    for output, parameter in [
        ("CLASSIFIER_MODE", "classifierMode"),
        ("CUSTOMVISION_DOMAIN", "customVisionDomain"),
    ]:
        assert main["outputs"][output]["value"] == parameter, "a provision records the choice"


def _app() -> dict[str, Any]:
    return parse(LOCALVISION)["resources"]["app"]["config"]


def test_the_container_app_serves_https_on_8080_with_health_probes() -> None:
    app = _app()
    ingress = app["properties"]["configuration"]["ingress"]
    assert (ingress["external"], ingress["targetPort"], ingress["allowInsecure"]) == (True, "port", False)
    assert parse(LOCALVISION)["variables"]["port"]["value"] == 8080
    [container] = app["properties"]["template"]["containers"]
    probes = {p["type"]: p["httpGet"] for p in container["probes"]}
    assert set(probes) == {"Startup", "Readiness", "Liveness"}
    assert all(get == {"path": "/health", "port": "port"} for get in probes.values())
    scale = app["properties"]["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == ("minReplicas", 1), "one writer of the state"
    assert container["resources"]["memory"] == "memory"
    params = parse(LOCALVISION)["parameters"]
    assert (params["cpu"]["default"], params["memory"]["default"]) == ("1.0", "2Gi")
    assert "'azd-service-name': 'localvision'" in LOCALVISION.read_text(), "azd deploy finds the app by it"


def test_the_container_reads_its_settings_and_keys_from_secrets_never_values() -> None:
    app = _app()
    [container] = app["properties"]["template"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert set(env) == LOCALVISION_ENV
    for name, secret in SECRET_ENV.items():
        assert env[name] == {"name": name, "secretRef": secret}, "a key is a secret reference, not a value"
    assert env["LOCALVISION_STORE"]["value"] == "blob"
    assert env["LOCALVISION_BLOB_CONTAINER"]["value"] == "stateContainerName"
    assert dotted(env["LOCALVISION_BLOB_ACCOUNT_URL"]["value"]) == "storage.properties.primaryEndpoints.blob"
    assert dotted(env["AZURE_CLIENT_ID"]["value"]) == "identity.properties.clientId"
    secrets = app["properties"]["configuration"]["secrets"]
    assert {s["name"] for s in secrets} == set(SECRET_ENV.values())
    for secret in secrets:
        assert "value" not in secret, "Container Apps secrets come from Key Vault"
        assert dotted(secret["identity"]) == "identity.id" and "secrets/" in secret["keyVaultUrl"]
    [registry] = app["properties"]["configuration"]["registries"]
    assert dotted(registry["identity"]) == "identity.id", "pulls with the identity, no admin password"


def test_registry_admin_off_and_the_identitys_roles_are_scoped_tight() -> None:
    tree = parse(LOCALVISION)
    registry = tree["resources"]["registry"]["config"]["properties"]
    assert (registry["adminUserEnabled"], registry["anonymousPullEnabled"]) == (False, False)
    scopes = {
        symbol: (r["config"]["scope"], tree["variables"]["roles"]["value"])
        for symbol, r in tree["resources"].items()
        if r["type"] == "Microsoft.Authorization/roleAssignments"
    }
    assert {symbol: scope for symbol, (scope, _) in scopes.items()} == {
        "acrPull": "registry",
        "stateContributor": "stateContainer",  # its own container, not the account
        "trainingKeyReader": "trainingKeySecret",  # its two secrets, not the vault
        "predictionKeyReader": "predictionKeySecret",
    }
    for resource in tree["resources"].values():
        if resource["type"] == "Microsoft.Authorization/roleAssignments":
            assert (
                dotted(resource["config"]["properties"]["principalId"]) == "identity.properties.principalId"
            )
    environment = tree["resources"]["environment"]["config"]["properties"]
    assert environment["appLogsConfiguration"] == {"destination": "azure-monitor"}, "no workspace shared key"
    assert tree["resources"]["stateContainer"]["config"]["properties"] == {"publicAccess": "None"}


def test_localvision_keys_are_generated_once_and_kept_in_key_vault() -> None:
    main = parse(INFRA / "main.bicep")
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for parameter, secret in [
        ("localvisionTrainingKey", "localvision-training-key"),
        ("localvisionPredictionKey", "localvision-prediction-key"),
    ]:
        assert any(d["type"] == "secure" for d in main["parameters"][parameter]["decorators"]), parameter
        assert (
            parameters[parameter]["value"] == f"$(secretOrRandomPassword ${{AZURE_KEY_VAULT_NAME}} {secret})"
        )
        assert f"name: '{secret}'" in LOCALVISION.read_text()


def test_the_selfhosted_prediction_resource_id_passes_the_apps_validation() -> None:
    # The app refuses a CUSTOMVISION_PREDICTION_RESOURCE_ID that is not a Cognitive Services account id.
    template = parse(LOCALVISION)["outputs"]["predictionResourceId"]["value"]
    value = template.replace("${resourceGroup().id}", "/subscriptions/sub-1/resourceGroups/rg-dev").replace(
        "${appName}", "ca-localvision-abc"
    )
    setting = next(s for s in SETTINGS if s.name == "CUSTOMVISION_PREDICTION_RESOURCE_ID")
    assert setting.parse(value) == value
