"""Where the traces and metrics go (TELEMETRY_EXPORTER), chosen once per process at start-up.

``none``: nowhere (the API's no-op providers; spans cost a function call). ``file``: JSON lines in
TELEMETRY_FILE (shared.telemetry.jsonl), for devhost and ``make up``. ``azuremonitor``: Application
Insights through the azure-monitor-opentelemetry distro, signed in with the app's managed identity (Entra
ingestion). In Azure the Functions Python worker configures that distro itself before it imports the app
when PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true (its exporter takes the identity from
APPLICATIONINSIGHTS_AUTHENTICATION_STRING); then it is not configured a second time here, which would
export every span, metric and log twice.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from shared.settings.definitions import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_configured: str | None = None


def configure(settings: Settings) -> None:
    """Install the exporter TELEMETRY_EXPORTER names; later calls in the same process change nothing."""
    global _configured
    with _lock:
        if _configured is not None:
            return
        _configured = settings.telemetry_exporter
        if _configured == "file":
            from shared.telemetry import jsonl

            jsonl.install(Path(settings.telemetry_file))
            log.info("telemetry: spans and metrics to %s", settings.telemetry_file)
        elif _configured == "azuremonitor":
            _azure_monitor(settings)


def _azure_monitor(settings: Settings) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        log.info("telemetry: Azure Monitor already configured by the Functions worker; not configured again")
        return
    from azure.identity import ManagedIdentityCredential
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = (
        ManagedIdentityCredential(client_id=settings.azure_client_id)
        if settings.azure_client_id
        else ManagedIdentityCredential()
    )
    configure_azure_monitor(
        connection_string=settings.applicationinsights_connection_string, credential=credential
    )
    log.info("telemetry: Azure Monitor configured with the app's managed identity")
