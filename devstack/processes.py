"""Child processes of the stack on loopback ports: free ports, readiness checks, a handle that stops them."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer, even 401/404, means the server is up
    except (OSError, ValueError):
        return False


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def wait_ready(
    ready: Callable[[], bool], process: subprocess.Popen, log: Path, what: str, timeout: float = 60.0
) -> None:
    """Poll ``ready`` until it holds; raise with the log's end when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; log:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start in {timeout:.0f} s; log:\n{_tail(log)}")
        time.sleep(0.1)


@dataclass
class Child:
    """A service running as a child process of this one, with its log file and ports."""

    process: subprocess.Popen
    log: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """Ctrl+C, as a user would; killed when it does not end within ``timeout``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def spawn(command: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``command`` with its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env
        )
