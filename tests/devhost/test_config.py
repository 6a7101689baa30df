"""Settings, host.json, connections and route templates: read as the host reads them; clear errors."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devhost.config import ConfigError, load_host_config, parse_timespan, resolve
from devhost.connections import resolve_connection
from devhost.routes import compile_route
from devstack.paths import PROJECT_ROOT
from tests.devhost.conftest import APPS


def test_route_templates_match_like_the_host():
    route = compile_route("retrain/{runId}")
    assert route.match("retrain/abc") == {"runId": "abc"}
    assert route.match("RETRAIN/abc") == {"runId": "abc"}
    assert route.match("retrain") is None
    assert route.match("retrain/a/b") is None
    optional = compile_route("items/{id:int}/{tag?}")
    assert optional.match("items/5") == {"id": "5"}
    assert optional.match("items/5/red") == {"id": "5", "tag": "red"}
    assert optional.match("items/x") is None
    assert compile_route("files/{*path}").match("files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert compile_route("v{version:int}/status").match("v2/status") == {"version": "2"}


def test_an_unknown_route_constraint_is_refused_at_start():
    with pytest.raises(ConfigError, match="constraint 'nonsense'"):
        compile_route("items/{id:nonsense}")


def test_timespans_and_host_json(tmp_path: Path):
    assert parse_timespan("00:00:30", "x") == 30
    assert parse_timespan("1.02:00:00", "x") == 93600
    with pytest.raises(ConfigError, match="functionTimeout"):
        parse_timespan("30s", "functionTimeout")
    host_json = tmp_path / "host.json"
    host_json.write_text(
        json.dumps(
            {
                "extensions": {
                    "http": {"routePrefix": ""},
                    "blobs": {"maxDegreeOfParallelism": 3, "poisonBlobThreshold": 2},
                    "queues": {"batchSize": 4, "maxPollingInterval": "00:01:00", "messageEncoding": "none"},
                }
            }
        )
    )
    config = load_host_config(host_json)
    assert config.route_prefix == ""
    assert (config.blobs.max_degree_of_parallelism, config.blobs.poison_blob_threshold) == (3, 2)
    assert config.queues.batch_size == 4 and config.queues.message_encoding == "none"
    assert config.queues.max_polling_interval == 2.0  # capped locally, as the host does
    host_json.write_text(json.dumps({"extensions": {"blobs": {"poisonBlobThreshold": 0}}}))
    with pytest.raises(ConfigError, match="poisonBlobThreshold"):
        load_host_config(host_json)


def test_setting_references_resolve_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IMAGES_CONTAINER", "photos")
    assert resolve("%IMAGES_CONTAINER%/{name}", "path") == "photos/{name}"
    with pytest.raises(ConfigError, match="NOT_DEFINED_ANYWHERE"):
        resolve("%NOT_DEFINED_ANYWHERE%", "queueName")


def test_connections_resolve_like_the_host(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AzureWebJobsMyConn", "UseDevelopmentStorage=true")
    assert resolve_connection("MyConn").connection_string == "UseDevelopmentStorage=true"
    # Identity-based groups are resolved here; the credential itself needs Entra ID and is not exercised.
    monkeypatch.setenv("IdConn__blobServiceUri", "https://acct.blob.core.windows.net")
    monkeypatch.setenv("IdConn__queueServiceUri", "https://acct.queue.core.windows.net")
    monkeypatch.setenv("IdConn__credential", "managedidentity")
    identity = resolve_connection("IdConn")
    assert identity.connection_string is None
    assert identity.blob_service_uri == "https://acct.blob.core.windows.net"
    assert identity.queue_service_uri == "https://acct.queue.core.windows.net"
    with pytest.raises(ConfigError, match="MissingConn__blobServiceUri"):
        resolve_connection("MissingConn")


def _script_root(tmp_path: Path, values: dict[str, str]) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    shutil.copy(APPS / "http_app.py", root / "function_app.py")
    shutil.copy(APPS / "record.py", root / "record.py")
    (root / "local.settings.json").write_text(json.dumps({"Values": values}))
    (root / "host.json").write_text('{"version": "2.0"}')
    return root


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devhost", "--app", str(root / "function_app.py"), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_devhost_refuses_to_start_without_a_function_key(tmp_path: Path):
    result = _run(_script_root(tmp_path, {}))
    assert result.returncode == 2
    assert "DEVHOST_FUNCTION_KEY is not set" in result.stderr


def test_devhost_says_when_its_port_is_taken(tmp_path: Path):
    root = _script_root(tmp_path, {"DEVHOST_FUNCTION_KEY": "k"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = _run(root, "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2
    assert "is in use" in result.stderr and "--port" in result.stderr
