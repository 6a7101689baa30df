"""The `make up` stack: Azurite, localvision and devhost as background processes on the standard ports
(``make up``/``down``/``logs``); with CUSTOMVISION_AUTH=identity also the local managed identity endpoint
(devstack.identity), and localvision takes its tokens instead of keys. Pids and logs live in ``.local/``
(or $LOCAL_STACK_DIR); ``down`` stops only the processes whose pids ``up`` recorded, and only while they
still run the command it started."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from devstack import azurite, devhost, identity, localvision
from devstack.paths import LOCAL, PROJECT_ROOT, SETTINGS, shown
from devstack.processes import answers_http, answers_tcp
from devstack.settings import StackError, ensure, values_of


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    ports: tuple[int, ...]
    marker: str  # a word of the command line, to recognise our process behind a pid
    ready: Callable[[], bool]
    stop_signal: int = signal.SIGINT
    start_timeout: float = 60.0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return LOCAL / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return LOCAL / f"{self.name}.log"


def auth_mode(values: dict[str, str]) -> str:
    """CUSTOMVISION_AUTH as devhost will read it: a variable already set wins over the file (Core Tools)."""
    return (os.environ.get("CUSTOMVISION_AUTH") or values.get("CUSTOMVISION_AUTH") or "key").strip().lower()


def identity_service(port: int = identity.STANDARD_PORT) -> Service:
    command = [
        sys.executable,
        "-m",
        "devstack.identity",
        "--port",
        str(port),
        "--state",
        str(LOCAL / "identity"),
    ]
    return Service(
        "identity", command, (port,), "devstack.identity", lambda: answers_http(f"http://127.0.0.1:{port}/")
    )


def services(settings: dict[str, Any]) -> list[Service]:
    values = values_of(settings)
    endpoint = values.get("CUSTOMVISION_TRAINING_ENDPOINT") or f"http://127.0.0.1:{localvision.STANDARD_PORT}"
    vision_port = urlparse(endpoint).port or localvision.STANDARD_PORT
    devhost_port = int((settings.get("Host") or {}).get("LocalHttpPort") or devhost.STANDARD_PORT)
    store_ports = azurite.STANDARD_PORTS
    keys = localvision.key_env(
        values.get("CUSTOMVISION_TRAINING_KEY", ""), values.get("CUSTOMVISION_PREDICTION_KEY", "")
    )
    vision_args: list[str] = []
    tokens: list[Service] = []
    devhost_env: dict[str, str] = {}
    if auth_mode(values) == "identity":
        # Tokens only: localvision's keys are made up on the spot and told to no one (disableLocalAuth).
        keys = localvision.key_env(secrets.token_urlsafe(24), secrets.token_urlsafe(24))
        trust, secret = identity.prepare(LOCAL / "identity")
        vision_args = ["--trust-token-issuer", str(trust)]
        tokens = [identity_service()]
        devhost_env = identity.environment(identity.STANDARD_PORT, secret)
    return [
        Service(
            "azurite",
            azurite.command(store_ports, LOCAL / "azurite"),
            tuple(store_ports.values()),
            "azurite",
            lambda: azurite.ready(store_ports),
            stop_signal=signal.SIGTERM,
        ),
        *tokens,
        Service(
            "localvision",
            localvision.command(LOCAL / "localvision", vision_port, *vision_args),
            (vision_port,),
            "localvision",
            lambda: localvision.ready(vision_port),
            start_timeout=120.0,
            env=keys,
        ),
        Service(
            "devhost",
            devhost.command("function_app", devhost_port, SETTINGS),
            (devhost_port,),
            "devhost",
            lambda: answers_http(f"http://127.0.0.1:{devhost_port}/"),
            env=devhost_env,
        ),
    ]


def _command_line(pid: int) -> str | None:
    """The command line of a running process, None when it is not running."""
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.exists():
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
    result = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True)
    return result.stdout.strip() or None


def runs(pid: int, marker: str) -> bool:
    """The process ``pid`` is alive and runs a command containing ``marker``."""
    command = _command_line(pid)
    return bool(command) and marker in command and "<defunct>" not in command


def running_pid(service: Service) -> int | None:
    """The pid recorded for the service, when that process still runs the service's command."""
    try:
        pid = int(service.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if runs(pid, service.marker):
        return pid
    service.pid_file.unlink(missing_ok=True)
    return None


def log_tail(service: Service, lines: int = 30) -> str:
    if not service.log_file.exists():
        return "(no log)"
    return "\n".join(service.log_file.read_text(errors="replace").splitlines()[-lines:])


def start(service: Service) -> None:
    pid = running_pid(service)
    if pid:
        print(f"{service.name}: already running (pid {pid})")
        return
    busy = [port for port in service.ports if answers_tcp(port)]
    if busy:
        raise StackError(
            f"{service.name}: port {', '.join(map(str, busy))} is in use by a process this stack did not "
            f"start; stop it (e.g. `lsof -i :{busy[0]}` or `ss -ltnp` shows which) and run `make up` again"
        )
    LOCAL.mkdir(parents=True, exist_ok=True)
    with service.log_file.open("ab") as log:
        log.write(f"\n--- started {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log.flush()
        process = subprocess.Popen(
            service.command,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **service.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C in the terminal that ran `make up` does not stop the stack
        )
    service.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + service.start_timeout
    print(f"{service.name}: starting (pid {process.pid}) ...", end="", flush=True)
    while not service.ready():
        if process.poll() is not None or time.monotonic() > deadline:
            why = (
                f"exited with {process.returncode}"
                if process.poll() is not None
                else "did not answer in time"
            )
            stop(service, quiet=True)
            process.wait(10)
            print(" failed")
            raise StackError(
                f"{service.name} {why}; last lines of {service.log_file}:\n{log_tail(service)}\n"
                "(services started before it keep running: `make down` stops them)"
            )
        time.sleep(0.2)
    print(" ready")


def stop(service: Service, *, quiet: bool = False, timeout: float = 30.0) -> None:
    pid = running_pid(service)
    if pid is None:
        if not quiet:
            print(f"{service.name}: not running")
        return
    os.kill(pid, service.stop_signal)
    deadline = time.monotonic() + timeout
    while runs(pid, service.marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if runs(pid, service.marker):
        print(f"{service.name}: did not stop within {timeout:.0f} s; killing pid {pid}")
        os.kill(pid, signal.SIGKILL)
    service.pid_file.unlink(missing_ok=True)
    if not quiet:
        print(f"{service.name}: stopped (pid {pid})")


def up() -> dict[str, Any]:
    """Start whatever is not running yet; return the settings the stack runs with."""
    reason = azurite.unavailable()
    if reason:
        raise StackError(reason)
    settings = ensure()
    for service in services(settings):
        start(service)
    return settings


def _current_services() -> list[Service]:
    return services(ensure() if SETTINGS.exists() else {})


def down() -> None:
    current = _current_services()
    for service in reversed(current):
        stop(service)
    if all(service.name != "identity" for service in current):
        stop(identity_service(), quiet=True)  # started in identity mode, before a switch back to keys


def logs(follow: bool, names: list[str]) -> None:
    stack = _current_services()
    unknown = set(names) - {s.name for s in stack}
    if unknown:
        raise StackError(
            f"no service named {', '.join(sorted(unknown))}: choose from {', '.join(s.name for s in stack)}"
        )
    chosen = [s for s in stack if not names or s.name in names]
    for service in chosen:
        print(f"==> {service.log_file} <==")
        print(log_tail(service, 40))
    if not follow:
        return
    offsets = {s.name: s.log_file.stat().st_size if s.log_file.exists() else 0 for s in chosen}
    try:
        while True:
            for service in chosen:
                if not service.log_file.exists():
                    continue
                with service.log_file.open("rb") as handle:
                    handle.seek(offsets[service.name])
                    for line in handle.read().decode(errors="replace").splitlines():
                        print(f"{service.name} | {line}")
                    offsets[service.name] = handle.tell()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def describe(settings: dict[str, Any]) -> list[str]:
    ports = {service.name: service.ports[0] for service in services(settings)}
    lines = [
        "local stack is up:",
        "  Azurite (storage)  blob http://127.0.0.1:10000/devstoreaccount1, queue :10001, table :10002",
        f"  localvision        http://127.0.0.1:{ports['localvision']} (Custom Vision training + prediction)",
        f"  devhost            http://localhost:{ports['devhost']}/api/ (the Function app)",
        f"logs: make logs (files in {shown(LOCAL)}/); stop: make down",
    ]
    if "identity" in ports:
        lines.insert(
            3,
            f"  identity           http://127.0.0.1:{ports['identity']}{identity.TOKEN_PATH} "
            "(managed identity tokens: CUSTOMVISION_AUTH=identity)",
        )
    return lines
