"""The local stack's process management, on real processes: start and wait, idempotent start, clear errors,
and a stop that touches only what it started. (The real three services run in `make demo`.)"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import background as stack
from devstack import settings
from devstack.processes import answers_http, answers_tcp, free_port


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(stack, "LOCAL", tmp_path / ".local")
    return tmp_path / ".local"


def _web(port: int, command: list[str] | None = None) -> stack.Service:
    return stack.Service(
        "web",
        command or [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        (port,),
        "http.server",
        lambda: answers_http(f"http://127.0.0.1:{port}/"),
        start_timeout=30,
    )


def test_start_waits_until_it_answers_is_idempotent_and_stop_ends_it(local: Path, capsys):
    service = _web(free_port())
    stack.start(service)
    pid = int(service.pid_file.read_text())
    assert answers_http(f"http://127.0.0.1:{service.ports[0]}/")
    stack.start(service)
    assert f"web: already running (pid {pid})" in capsys.readouterr().out
    stack.stop(service)
    assert not service.pid_file.exists()
    assert not stack.runs(pid, "http.server")
    assert not answers_tcp(service.ports[0])


def test_a_port_in_use_by_someone_else_is_a_clear_error(local: Path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        service = _web(other.getsockname()[1])
        with pytest.raises(stack.StackError, match="in use by a process this stack did not start"):
            stack.start(service)
    assert not service.pid_file.exists()


def test_a_service_that_dies_at_start_shows_its_log(local: Path):
    command = [sys.executable, "-c", "print('cannot open the data folder'); raise SystemExit(3)"]
    with pytest.raises(stack.StackError, match="exited with 3") as error:
        stack.start(_web(free_port(), command))
    assert "cannot open the data folder" in str(error.value)


def test_stop_leaves_a_process_it_did_not_start_alone(local: Path):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        service = _web(free_port())
        local.mkdir()
        service.pid_file.write_text(str(stranger.pid))  # a stale pid file now naming another program
        stack.stop(service)
        assert stranger.poll() is None
        assert not service.pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_settings_are_created_from_the_example_once(tmp_path: Path, monkeypatch):
    example = tmp_path / "local.settings.json.example"
    example.write_text(json.dumps({"Values": {"DEVHOST_FUNCTION_KEY": "k", "PIPELINE_STORAGE": "x"}}))
    settings_file = tmp_path / "local.settings.json"
    monkeypatch.setattr(settings, "SETTINGS_EXAMPLE", example)
    monkeypatch.setattr(settings, "SETTINGS", settings_file)
    assert settings.ensure()["Values"] == {"DEVHOST_FUNCTION_KEY": "k", "PIPELINE_STORAGE": "x"}
    settings_file.write_text(json.dumps({"Values": {"DEVHOST_FUNCTION_KEY": "mine"}}))
    assert settings.ensure()["Values"] == {"DEVHOST_FUNCTION_KEY": "mine"}  # a user's file is kept
