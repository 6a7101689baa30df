"""OpenTelemetry in Azure: host.json, the app settings infra gives the function app, and the distro
configured exactly once with the app's identity. Azure Monitor cannot be reached from here: the last tests
replace ``configure_azure_monitor`` with a recorder (in a child process each, as a process sets its
OpenTelemetry providers once) and check what the app hands it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from devstack.paths import HOST_JSON, PROJECT_ROOT
from tests.infra.bicep import app_settings

CLIENT_ID = "11111111-2222-3333-4444-555555555555"


def test_host_json_runs_in_opentelemetry_mode_without_copies_of_the_workers_logs() -> None:
    host = json.loads(HOST_JSON.read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    functions = re.findall(
        r'@app\.function_name\("([^"]+)"\)', (PROJECT_ROOT / "function_app.py").read_text()
    )
    assert "classify" in functions and "retrain_worker" in functions
    levels = host["logging"]["logLevel"]
    # the worker exports the app's logs itself (correlated with its spans): the host drops its copy
    assert {f"Function.{name}.User": levels.get(f"Function.{name}.User") for name in functions} == {
        f"Function.{name}.User": "None" for name in functions
    }


def test_infra_turns_the_worker_telemetry_on_with_the_apps_identity() -> None:
    settings = app_settings()
    assert settings["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    assert settings["TELEMETRY_EXPORTER"] == "azuremonitor"
    auth = settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    assert "Authorization=AAD" in auth and "ClientId=${identityClientId}" in auth


RECORDER = f"""
import json, sys
import azure.identity
import azure.monitor.opentelemetry as distro
calls = []
distro.configure_azure_monitor = lambda **kw: calls.append(kw)
azure.identity.ManagedIdentityCredential = lambda **kw: {{"ManagedIdentityCredential": kw}}
from shared import telemetry
from shared.settings.definitions import load_settings
env = json.load(open("local.settings.json.example"))["Values"]
env.update(TELEMETRY_EXPORTER="azuremonitor", AZURE_CLIENT_ID="{CLIENT_ID}",
           APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=00000000-0000-0000-0000-000000000000")
if sys.argv[1] == "worker-configured":
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    trace.set_tracer_provider(TracerProvider())
settings = load_settings(env)
telemetry.configure(settings)
telemetry.configure(settings)
print(json.dumps(calls))
"""


def recorded(case: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", RECORDER, case], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_app_configures_azure_monitor_once_with_its_managed_identity() -> None:
    [call] = recorded("alone")
    assert call == {
        "connection_string": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
        "credential": {"ManagedIdentityCredential": {"client_id": CLIENT_ID}},
    }


def test_the_app_does_not_configure_it_again_after_the_functions_worker() -> None:
    assert recorded("worker-configured") == []
