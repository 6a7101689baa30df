"""The deployment package azd builds: the repository's files minus the .funcignore rules (scripts/package.py).

The files are the tracked ones (``git ls-files``) plus what local runs leave in a working tree (caches,
virtual environments, test databases), so the result is the same in a fresh clone and in a used tree.
Rules follow gitignore for the forms .funcignore uses: a name or glob without a slash matches at any
depth, one with a leading ``/`` at the repository root only; a match on a directory excludes its contents.
"""

from __future__ import annotations

import subprocess

from devstack.paths import PROJECT_ROOT
from tests.infra.scripts import load_script

FUNCIGNORE = PROJECT_ROOT / ".funcignore"
_PACKAGE = load_script("package")

# Files that tests, tools and the local stack create and git ignores: each must stay out of the package.
LOCAL_ARTIFACTS = (
    ".hypothesis/examples/0a1b/2c3d",
    ".schemathesis/cache.json",
    ".venv/lib/python3.11/site-packages/azure/core/__init__.py",
    ".venv-checkov/bin/checkov",
    "node_modules/azurite/package.json",
    ".local/azurite/__azurite_db_blob__.json",
    ".pytest_cache/v/cache/nodeids",
    ".ruff_cache/0.17.6/123",
    ".mypy_cache/3.11/shared.json",
    "__pycache__/function_app.cpython-311.pyc",
    "shared/__pycache__/settings.cpython-311.pyc",
    "tests/__pycache__/conftest.cpython-311.pyc",
    "__azurite_db_blob__.json",
    "__blobstorage__/data",
    "__queuestorage__/data",
    "local.settings.json",
    ".azure/dev/.env",
    ".coverage",
    "bench/results/latest.json",
    "shared/model.egg-info/PKG-INFO",
)


def rules() -> list[str]:
    return _PACKAGE.rules(FUNCIGNORE)


def excluded(path: str, patterns: list[str] | None = None) -> bool:
    """Whether .funcignore (or the given rules) keeps this repository-relative path out of the package."""
    return _PACKAGE.excluded(path, rules() if patterns is None else patterns)


def tracked_files() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True, timeout=60
    )
    return [name for name in done.stdout.decode().split("\0") if name]


def packaged_files(patterns: list[str] | None = None) -> set[str]:
    """Repository-relative paths azd would deploy (tracked files and local artifacts, minus exclusions)."""
    candidates = {*tracked_files(), *LOCAL_ARTIFACTS}
    return {path for path in candidates if not excluded(path, patterns)}
