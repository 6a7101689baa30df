"""azure.yaml, its hooks, the parameters file and .funcignore fit together and fit the app."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import subprocess
from pathlib import Path

import yaml

from devstack.paths import PROJECT_ROOT
from tests.infra.bicep import INFRA, parse

AZURE_YAML = PROJECT_ROOT / "azure.yaml"
# What the deployment package must hold, and nothing else.
PACKAGE = {"function_app.py", "host.json", "requirements.txt", "shared"}


def azure_yaml() -> dict:
    return yaml.safe_load(AZURE_YAML.read_text())


def test_service_is_the_function_app_at_the_repository_root() -> None:
    services = azure_yaml()["services"]
    assert list(services) == ["pipeline"]
    service = services["pipeline"]
    assert service["host"] == "function"
    assert service["language"] == "python"
    assert (PROJECT_ROOT / service["project"]).resolve() == PROJECT_ROOT
    # azd deploy finds the app by the azd-service-name tag, which must name this service.
    function = (INFRA / "app" / "function.bicep").read_text()
    assert "'azd-service-name': 'pipeline'" in function


def test_postdeploy_hooks_exist_and_are_executable() -> None:
    hooks = azure_yaml()["hooks"]["postdeploy"]
    for platform in ("posix", "windows"):
        script = PROJECT_ROOT / hooks[platform]["run"]
        assert script.is_file(), f"{platform} postdeploy hook {script} is missing"
        assert os.access(script, os.X_OK), f"{script} is not executable (chmod +x)"
    assert hooks["posix"]["shell"] == "sh"
    assert hooks["windows"]["shell"] == "pwsh"
    done = subprocess.run(
        ["sh", "-n", str(PROJECT_ROOT / hooks["posix"]["run"])], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_hooks_read_only_values_that_main_bicep_outputs() -> None:
    outputs = set(parse(INFRA / "main.bicep")["outputs"])
    azd_sets = {"AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME"}  # azd's own environment values
    for script in ("postdeploy.sh", "postdeploy.ps1"):
        text = (PROJECT_ROOT / "scripts" / script).read_text()
        read = set(re.findall(r"\b((?:AZURE|RESOURCE|SERVICE|EVENTGRID|IMAGES|CLASSIFY)_[A-Z_]+)\b", text))
        read -= {"EVENTGRID_SUBSCRIPTION_NAME"}  # optional override with a default
        assert read <= outputs | azd_sets, (
            f"{script} reads values no output provides: {read - outputs - azd_sets}"
        )


def _classify_trigger() -> dict[str, object]:
    """Keyword arguments of the classify function's blob_trigger decorator, read from function_app.py."""
    tree = ast.parse((PROJECT_ROOT / "function_app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            decorators = {
                d.func.attr: d
                for d in node.decorator_list
                if isinstance(d, ast.Call) and hasattr(d.func, "attr")
            }
            name = decorators.get("function_name")
            if name and ast.literal_eval(name.args[0]) == "classify" and "blob_trigger" in decorators:
                return {k.arg: ast.unparse(k.value) for k in decorators["blob_trigger"].keywords}
    raise AssertionError("function_app.py has no blob-triggered function named classify")


def test_webhook_targets_the_event_grid_classify_trigger() -> None:
    main = parse(INFRA / "main.bicep")
    assert main["outputs"]["CLASSIFY_FUNCTION_NAME"]["value"] == "classify"
    trigger = _classify_trigger()
    assert trigger["source"] == "func.BlobSource.EVENT_GRID", (
        "Flex Consumption supports only EventGrid blob triggers"
    )
    assert trigger["connection"] == "'PIPELINE_STORAGE'"
    assert trigger["path"].startswith("'%IMAGES_CONTAINER%/")


def test_parameters_file_matches_main_bicep() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = parse(INFRA / "main.bicep")["parameters"]
    assert set(parameters) <= set(declared), f"unknown parameters: {set(parameters) - set(declared)}"
    required = {name for name, p in declared.items() if "default" not in p}
    assert required <= set(parameters), f"required parameters without a value: {required - set(parameters)}"


def _ignored(relative: Path, patterns: list[str]) -> bool:
    """gitignore semantics for patterns without a slash: any path component matching excludes it."""
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in patterns)


def test_funcignore_leaves_only_the_app_in_the_package() -> None:
    lines = (PROJECT_ROOT / ".funcignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert all("/" not in p and not p.startswith("!") for p in patterns), "keep .funcignore to simple names"
    packaged = set()
    for directory, subdirectories, files in os.walk(PROJECT_ROOT):
        here = Path(directory).relative_to(PROJECT_ROOT)
        subdirectories[:] = [d for d in subdirectories if not _ignored(here / d, patterns)]
        packaged |= {(here / f).parts[0] for f in files if not _ignored(here / f, patterns)}
    assert packaged == PACKAGE, (
        f"the deployment package would hold {sorted(packaged - PACKAGE)} too; add them to .funcignore"
        if packaged > PACKAGE
        else f"the deployment package differs from {sorted(PACKAGE)}: {sorted(packaged)}"
    )


def test_windows_hook_builds_the_same_subscription() -> None:
    # pwsh is not available here to run postdeploy.ps1; at least it must use the same names and settings
    # as postdeploy.sh, which test_postdeploy.py runs.
    windows = (PROJECT_ROOT / "scripts" / "postdeploy.ps1").read_text()
    for fragment in (
        "systemKeys.blobs_extension",
        "/runtime/webhooks/blobs?functionName=Host.Functions.",
        "Microsoft.Storage.BlobCreated",
        "/blobServices/default/containers/",
        "maxDeliveryAttempts = 30",
        "eventTimeToLiveInMinutes = 1440",
        "deadLetterWithResourceIdentity",
        "identity = @{ type = 'SystemAssigned' }",
        "endpointType = 'StorageBlob'",
        "api-version=2022-06-15",
        "classifyimages",
        "code=***",
    ):
        assert fragment in windows, f"postdeploy.ps1 lacks {fragment!r}"
