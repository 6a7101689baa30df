"""localvision's container image with podman: build it (reusing a build of the same inputs) and run it.

No image registry is reachable here, so the base image is built from Debian's packages with mmdebstrap
(cached under .local/images by the content of its recipe); in Azure the Dockerfile's default base is used.
``python -m devstack.container build`` (``make image``) prints the image's tag and size.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack.paths import PROJECT_ROOT
from devstack.processes import answers_http, free_port

IMAGE = "localhost/localvision"
BASE_IMAGE = "localhost/localvision-base"
CACHE = PROJECT_ROOT / ".local" / "images"
DOCKERFILE = PROJECT_ROOT / "localvision" / "Dockerfile"
BASE_RECIPE = ("bookworm", "minbase", "python3,python3-venv,ca-certificates")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# What podman needs on these machines (hybrid cgroups, low limits): see docs/localvision.md.
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def unavailable() -> str | None:
    """None when images can be built and run here, else why not and what to do."""
    missing = [tool for tool in ("podman", "runc", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} missing: as root, apt-get install podman runc mmdebstrap uidmap"
    return None


def call(*args: str, env: Mapping[str, str] | None = None) -> str:
    result = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"podman {args[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def _exists(tag: str) -> bool:
    return subprocess.run([*PODMAN, "image", "exists", tag], check=False).returncode == 0


def base_image() -> str:
    """The Debian base (python3, venv, CA certificates), built once per recipe and kept."""
    digest = hashlib.sha256("|".join(BASE_RECIPE).encode()).hexdigest()[:12]
    tag = f"{BASE_IMAGE}:{digest}"
    if _exists(tag):
        return tag
    tarball = CACHE / f"base-{digest}.tar"
    if not tarball.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        suite, variant, packages = BASE_RECIPE
        partial = tarball.with_suffix(".partial.tar")
        subprocess.run(
            ["mmdebstrap", f"--variant={variant}", f"--include={packages}", suite, str(partial)], check=True
        )
        partial.rename(tarball)
    call("import", str(tarball), tag)
    return tag


def _inputs_digest(base: str) -> str:
    """A hash of everything the build reads: the Dockerfile, the pins, localvision's files, the base."""
    digest = hashlib.sha256(base.encode())
    files = [DOCKERFILE, PROJECT_ROOT / ".dockerignore", PROJECT_ROOT / "constraints.txt"]
    files += sorted(
        path
        for path in (PROJECT_ROOT / "localvision").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def build() -> str:
    """The image of the current sources: reused when one of the same inputs exists, else built."""
    base = base_image()
    tag = f"{IMAGE}:{_inputs_digest(base)}"
    if _exists(tag):
        return tag
    command = [
        *PODMAN, "build", "--network", "host", *LIMITS, "--build-arg", f"BASE_IMAGE={base}",
        "-t", tag, "-t", f"{IMAGE}:dev", "-f", str(DOCKERFILE),
    ]  # fmt: skip
    if Path(CA_BUNDLE).exists():  # the package registries are reached through a proxy with its own CA
        command[len(PODMAN) + 1 : len(PODMAN) + 1] = ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    subprocess.run([*command, str(PROJECT_ROOT)], check=True)
    return tag


def size_bytes(tag: str) -> int:
    return int(call("image", "inspect", "--format", "{{.Size}}", tag))


@dataclass
class Container:
    """A running localvision container on the host network, listening on ``port``."""

    id: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        result = subprocess.run([*PODMAN, "logs", self.id], capture_output=True, text=True, check=False)
        return result.stdout + result.stderr

    def stop(self) -> None:
        subprocess.run([*PODMAN, "rm", "--force", "--time", "5", self.id], capture_output=True, check=False)


def run(tag: str, env: Mapping[str, str], port: int | None = None, timeout: float = 120.0) -> Container:
    """Start the image with these settings (passed in the environment, never on the command line) and
    wait until GET /health answers. The host network: the container reaches the host's Azurite."""
    port = port or free_port()
    settings = {**env, "LOCALVISION_PORT": str(port)}
    names = [arg for name in settings for arg in ("-e", name)]
    container_id = call("run", "-d", "--network", "host", *LIMITS, *names, tag, env=settings)
    container = Container(container_id, port)
    deadline = time.monotonic() + timeout
    while not answers_http(f"{container.endpoint}/health"):
        state = call("inspect", "--format", "{{.State.Status}}", container_id)
        if state not in ("running", "created") or time.monotonic() > deadline:
            logs = container.logs()
            container.stop()
            raise RuntimeError(f"the localvision container did not answer /health ({state}):\n{logs[-3000:]}")
        time.sleep(0.1)
    return container


def main(argv: list[str]) -> int:
    if argv != ["build"]:
        print("usage: python -m devstack.container build", file=sys.stderr)
        return 2
    reason = unavailable()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    tag = build()
    print(f"{tag} ({size_bytes(tag) / 1e6:.0f} MB; also tagged {IMAGE}:dev)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
