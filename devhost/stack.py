"""The local stack: Azurite, localvision and devhost as background processes (``make up``/``down``/``logs``).

``python -m devhost.stack up|down|logs [-f]``. Pids and logs live in ``.local/``; ``down`` stops only the
processes whose pids ``up`` recorded (and only while they still run the command it started).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Pids, logs and data of the stack; LOCAL_STACK_DIR moves them (the tests use a folder of their own).
LOCAL = Path(os.environ.get("LOCAL_STACK_DIR") or PROJECT_ROOT / ".local")
SETTINGS = PROJECT_ROOT / "local.settings.json"
SETTINGS_EXAMPLE = PROJECT_ROOT / "local.settings.json.example"
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"


class StackError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


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


def _shown(path: Path) -> Path:
    """``path`` relative to the project when it is inside it."""
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path


def ensure_settings() -> dict[str, Any]:
    """Create local.settings.json from the example when missing; return its content."""
    if not SETTINGS.exists():
        if not SETTINGS_EXAMPLE.exists():
            raise StackError(f"{SETTINGS_EXAMPLE} is missing: it ships with the project; restore it from git")
        shutil.copyfile(SETTINGS_EXAMPLE, SETTINGS)
        print(f"created {SETTINGS.name} from {SETTINGS_EXAMPLE.name}")
    try:
        data = json.loads(SETTINGS.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StackError(f"{SETTINGS} is not valid JSON: {exc}") from exc
    return data


def _answers_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer, even 401/404, means the server is up
    except (OSError, ValueError):
        return False


def _port_of(url: str, default: int) -> int:
    return urlparse(url).port or default


def services(settings: dict[str, Any]) -> list[Service]:
    values = {k: str(v) for k, v in (settings.get("Values") or {}).items()}
    vision_port = _port_of(values.get("CUSTOMVISION_TRAINING_ENDPOINT") or "http://127.0.0.1:5100", 5100)
    devhost_port = int((settings.get("Host") or {}).get("LocalHttpPort") or 7071)
    azurite = [
        str(AZURITE_BIN), "--silent", "--location", str(LOCAL / "azurite"),
        "--blobHost", "127.0.0.1", "--blobPort", "10000", "--queueHost", "127.0.0.1", "--queuePort", "10001",
        "--tableHost", "127.0.0.1", "--tablePort", "10002",
        "--skipApiVersionCheck", "--disableTelemetry", "--loose",
    ]  # fmt: skip
    localvision = [
        sys.executable, "-m", "localvision", "--data", str(LOCAL / "localvision"),
        "--host", "127.0.0.1", "--port", str(vision_port),
    ]  # fmt: skip
    devhost = [sys.executable, "-m", "devhost", "--app", "function_app", "--settings", str(SETTINGS)]
    # The keys go to localvision through its environment, so they do not show in `ps`.
    vision_env = {
        "LOCALVISION_TRAINING_KEY": values.get("CUSTOMVISION_TRAINING_KEY", ""),
        "LOCALVISION_PREDICTION_KEY": values.get("CUSTOMVISION_PREDICTION_KEY", ""),
    }
    return [
        Service(
            "azurite",
            azurite,
            (10000, 10001, 10002),
            "azurite",
            lambda: _answers_tcp(10000) and _answers_tcp(10001),
            stop_signal=signal.SIGTERM,
        ),
        Service(
            "localvision",
            localvision,
            (vision_port,),
            "localvision",
            lambda: _answers_http(f"http://127.0.0.1:{vision_port}/"),
            start_timeout=120.0,
            env=vision_env,
        ),
        Service(
            "devhost",
            [*devhost, "--port", str(devhost_port)],
            (devhost_port,),
            "devhost",
            lambda: _answers_http(f"http://127.0.0.1:{devhost_port}/"),
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


def running_pid(service: Service) -> int | None:
    """The pid recorded for the service, when that process still runs the service's command."""
    try:
        pid = int(service.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if _runs(pid, service.marker):
        return pid
    service.pid_file.unlink(missing_ok=True)
    return None


def _runs(pid: int, marker: str) -> bool:
    command = _command_line(pid)
    return bool(command) and marker in command and "<defunct>" not in command


def log_tail(service: Service, lines: int = 30) -> str:
    if not service.log_file.exists():
        return "(no log)"
    return "\n".join(service.log_file.read_text(errors="replace").splitlines()[-lines:])


def _check_prerequisites() -> None:
    if not AZURITE_BIN.exists():
        raise StackError(f"Azurite is not installed ({AZURITE_BIN} is missing): run `make install` (npm ci)")
    if shutil.which("node") is None:
        raise StackError("node is not on PATH: Azurite needs Node.js (install it, then `make install`)")


def start(service: Service) -> None:
    pid = running_pid(service)
    if pid:
        print(f"{service.name}: already running (pid {pid})")
        return
    busy = [port for port in service.ports if _answers_tcp(port)]
    if busy:
        raise StackError(
            f"{service.name}: port {', '.join(map(str, busy))} is in use by a process this stack did not "
            f"start; stop it (e.g. `lsof -i :{busy[0]}` or `ss -ltnp` shows which) and run `make up` again"
        )
    LOCAL.mkdir(exist_ok=True)
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
    while _runs(pid, service.marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _runs(pid, service.marker):
        print(f"{service.name}: did not stop within {timeout:.0f} s; killing pid {pid}")
        os.kill(pid, signal.SIGKILL)
    service.pid_file.unlink(missing_ok=True)
    if not quiet:
        print(f"{service.name}: stopped (pid {pid})")


def up() -> dict[str, Any]:
    """Start whatever is not running yet; return the settings the stack runs with."""
    _check_prerequisites()
    settings = ensure_settings()
    for service in services(settings):
        start(service)
    return settings


def down() -> None:
    for service in reversed(services(ensure_settings() if SETTINGS.exists() else {})):
        stop(service)


def logs(follow: bool, names: list[str]) -> None:
    stack = services(ensure_settings() if SETTINGS.exists() else {})
    unknown = set(names) - {s.name for s in stack}
    if unknown:
        raise StackError(
            f"no service named {', '.join(sorted(unknown))}: choose from azurite, localvision, devhost"
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
    _, vision, host = services(settings)
    return [
        "local stack is up:",
        "  Azurite (storage)  blob http://127.0.0.1:10000/devstoreaccount1, queue :10001, table :10002",
        f"  localvision        http://127.0.0.1:{vision.ports[0]} (Custom Vision training + prediction)",
        f"  devhost            http://localhost:{host.ports[0]}/api/ (the Function app)",
        f"logs: make logs (files in {_shown(LOCAL)}/); stop: make down",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.stack", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start Azurite, localvision and devhost in the background")
    commands.add_parser("down", help="stop what `up` started")
    logs_parser = commands.add_parser("logs", help="show the logs (-f to follow)")
    logs_parser.add_argument("-f", "--follow", action="store_true")
    logs_parser.add_argument("service", nargs="*", help="azurite, localvision or devhost (default: all)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            for line in describe(up()):
                print(line)
        elif args.command == "down":
            down()
        else:
            logs(args.follow, args.service)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
