"""azure.yaml, its hooks, the parameters file and .funcignore fit together and fit the app."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess

import pytest
import yaml

from devstack.paths import PROJECT_ROOT
from tests.infra.bicep import INFRA, parse
from tests.infra.package import LOCAL_ARTIFACTS, excluded, packaged_files, tracked_files
from tests.infra.scripts import load_script

AZURE_YAML = PROJECT_ROOT / "azure.yaml"
# What the deployment package must hold, and nothing else (top level), and the files that must be in it.
PACKAGE = {"function_app.py", "host.json", "requirements.txt", "requirements-lock.txt", "shared"}
MUST_DEPLOY = {"function_app.py", "host.json", "requirements.txt", "requirements-lock.txt"}


def azure_yaml() -> dict:
    return yaml.safe_load(AZURE_YAML.read_text())


def test_service_is_the_function_app_at_the_repository_root() -> None:
    services = azure_yaml()["services"]
    assert list(services) == ["pipeline", "localvision"]
    service = services["pipeline"]
    assert service["host"] == "function"
    assert service["language"] == "python"
    assert (PROJECT_ROOT / service["project"]).resolve() == PROJECT_ROOT
    # azd deploy finds the app by the azd-service-name tag, which must name this service.
    function = (INFRA / "app" / "function.bicep").read_text()
    assert "'azd-service-name': 'pipeline'" in function


def test_localvision_is_a_container_app_built_in_the_registry() -> None:
    service = azure_yaml()["services"]["localvision"]
    assert service["host"] == "containerapp"
    assert service["docker"] == {"path": "localvision/Dockerfile", "context": ".", "remoteBuild": True}
    assert (PROJECT_ROOT / service["project"]).resolve() == PROJECT_ROOT
    # azd deploy finds the container app by its azd-service-name tag; the remote build needs the registry.
    assert "'azd-service-name': 'localvision'" in (INFRA / "app" / "localvision.bicep").read_text()
    outputs = parse(INFRA / "main.bicep")["outputs"]
    assert "AZURE_CONTAINER_REGISTRY_ENDPOINT" in outputs
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["localvisionImage"]["value"] == "${SERVICE_LOCALVISION_IMAGE_NAME=}", (
        "a provision keeps the image azd deployed"
    )


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
    for name in ("postdeploy", "preprovision"):
        required = set(load_script(name).REQUIRED)
        assert required <= outputs | azd_sets, (
            f"{name}.py reads values no output provides: {required - outputs}"
        )


def test_the_choices_preprovision_checks_are_the_parameters_azd_passes() -> None:
    # Each choice preprovision.py validates is an azd environment value main.parameters.json passes to
    # main.bicep, with the same default and the same allowed values as the parameter it feeds.
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = parse(INFRA / "main.bicep")["parameters"]
    passed = {}
    for parameter, spec in parameters.items():
        match = re.fullmatch(r"\$\{(\w+)(?:=([^}]*))?\}", spec["value"])
        if match:
            passed[match.group(1)] = (parameter, match.group(2))
    for name, (allowed, default) in load_script("preprovision").CHOICES.items():
        assert name in passed, f"main.parameters.json does not pass {name}"
        parameter, parameter_default = passed[name]
        assert parameter_default == default, f"{name}: default {parameter_default!r} != hook's {default!r}"
        decorators = {d["type"]: d.get("argument") for d in declared[parameter].get("decorators", [])}
        assert set(decorators["allowed"]) == set(allowed), f"{parameter}: @allowed != the hook's {allowed}"


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


def test_package_holds_the_app_and_nothing_else() -> None:
    packaged = packaged_files()
    top_level = {path.split("/")[0] for path in packaged}
    assert top_level == PACKAGE, (
        f"the deployment package would also hold {sorted(top_level - PACKAGE)}: add them to .funcignore"
        if top_level > PACKAGE
        else f"the deployment package lacks {sorted(PACKAGE - top_level)}"
    )


def test_package_holds_every_file_of_the_app() -> None:
    # shared/ is the app's code and the console's static assets: every tracked file there is deployed.
    packaged = packaged_files()
    app_files = [
        path
        for path in tracked_files()
        if path in MUST_DEPLOY or (path.startswith("shared/") and "__pycache__" not in path)
    ]
    assert {"function_app.py", "shared/__init__.py"} <= set(app_files)
    missing = sorted(set(app_files) - packaged)
    assert not missing, f".funcignore keeps app files out of the package: {missing}"


def test_local_artifacts_stay_out_of_the_package() -> None:
    leaked = sorted(path for path in LOCAL_ARTIFACTS if not excluded(path))
    assert not leaked, f"the package would hold what local runs leave behind: {leaked}"


@pytest.mark.parametrize(
    ("rule", "path", "expected"),
    [
        ("/docs", "docs/deploy.md", True),
        ("/docs", "shared/console/docs/help.html", False),
        ("__pycache__", "shared/__pycache__/x.pyc", True),
        ("*.pyc", "shared/x.pyc", True),
        (".venv*", ".venv-checkov/bin/checkov", True),
        ("/*.md", "README.md", True),
        ("/*.md", "shared/console/notes.md", False),
        ("tests", "shared/tests.py", False),
    ],
)
def test_the_package_rules_follow_gitignore(rule: str, path: str, expected: bool) -> None:
    assert excluded(path, [rule]) is expected


def test_azd_version_that_honours_funcignore() -> None:
    # azd applies .funcignore to Flex Consumption packages from 1.18.0; an older azd would deploy everything.
    required = azure_yaml()["requiredVersions"]["azd"]
    match = re.fullmatch(r">=\s*(\d+)\.(\d+)\.(\d+)", required)
    assert match, f"requiredVersions.azd should be a lower bound, not {required!r}"
    assert tuple(map(int, match.groups())) >= (1, 18, 0)


def test_both_hooks_of_a_step_run_the_same_python_module() -> None:
    # pwsh is not available here to run the Windows scripts; the logic is in one Python module that both
    # run (test_postdeploy.py runs it through the POSIX script), so only the launch differs.
    hooks = azure_yaml()["hooks"]
    assert set(hooks) == {"preprovision", "postdeploy"}
    for step, platforms in hooks.items():
        module = f"{step}.py"
        assert (PROJECT_ROOT / "scripts" / module).is_file()
        for platform in ("posix", "windows"):
            script = (PROJECT_ROOT / platforms[platform]["run"]).read_text()
            assert module in script, f"{platforms[platform]['run']} does not run {module}"
            assert len(script.splitlines()) <= 40, f"{platforms[platform]['run']} is more than a launcher"
