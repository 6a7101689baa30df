"""The deployment lock: what Azure's remote build installs is what the tests ran with.

requirements.txt lists the app's direct dependencies and applies requirements-lock.txt as constraints; the
lock must pin every distribution that requirements.txt pulls in (on the target: Linux, the Python version of
functionAppConfig.runtime, which this environment has too) to the version installed here, and nothing else.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devstack.paths import PROJECT_ROOT
from tests.infra.bicep import function_app
from tests.infra.package import packaged_files

REQUIREMENTS = PROJECT_ROOT / "requirements.txt"
LOCK = PROJECT_ROOT / "requirements-lock.txt"


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split(" #")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def installed_closure(requirements: list[str]) -> dict[str, str]:
    """Canonical name -> installed version of each distribution the requirements pull in (with extras)."""
    found: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    pending = [Requirement(line) for line in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in found and extras <= extras_seen[name]:
            continue
        distribution = importlib.metadata.distribution(requirement.name)
        found[name] = distribution.version
        extras_seen[name] = extras_seen.get(name, set()) | extras
        for line in distribution.requires or []:
            dependency = Requirement(line)
            wanted = {""} | extras_seen[name]
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in wanted):
                pending.append(dependency)
    return found


def active(requirements: list[str]) -> list[Requirement]:
    parsed = [Requirement(line) for line in requirements]
    return [r for r in parsed if r.marker is None or r.marker.evaluate()]


def test_requirements_apply_the_lock() -> None:
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()]
    assert "-c requirements-lock.txt" in lines, "requirements.txt must apply the lock for Azure's build"


def test_this_environment_is_the_azure_target() -> None:
    _, app = function_app()
    runtime = app["config"]["properties"]["functionAppConfig"]["runtime"]
    assert runtime["name"] == "python"
    assert runtime["version"] == f"{sys.version_info.major}.{sys.version_info.minor}", (
        "the lock is computed for the runtime Azure runs; run the tests on that Python version"
    )
    assert sys.platform == "linux", "Flex Consumption runs Linux; compute the lock on Linux"


def test_lock_pins_exactly_what_requirements_install_here() -> None:
    closure = installed_closure(requirement_lines(REQUIREMENTS))
    locked = {}
    for requirement in active(requirement_lines(LOCK)):
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{requirement} is not a pin"
        locked[canonicalize_name(requirement.name)] = specifiers[0].version
    expected = "\n".join(f"{name}=={version}" for name, version in sorted(closure.items()))
    assert locked == closure, (
        f"requirements-lock.txt differs from what requirements.txt installs here; it should pin:\n{expected}"
    )


def test_lock_pins_the_direct_dependencies_as_requirements_does() -> None:
    locked = {canonicalize_name(r.name): r.specifier for r in active(requirement_lines(LOCK))}
    for requirement in active(requirement_lines(REQUIREMENTS)):
        assert locked[canonicalize_name(requirement.name)] == requirement.specifier, requirement


def test_lock_is_deployed() -> None:
    assert {"requirements.txt", "requirements-lock.txt"} <= packaged_files(), (
        ".funcignore keeps the lock out of the package, so Azure's build could not apply it"
    )
