"""`make package` builds the zip azd deploys, and that zip alone runs the app.

The zip is unpacked into an empty folder, a fresh virtual environment gets only what the package's
requirements name (the remote build's step; from PyPI, with pip's cache), and function_app is imported there
with the example settings: it must declare every function devhost indexes from the working tree, and the zip
must hold nothing but the app.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devstack.paths import PROJECT_ROOT
from tests.infra.scripts import load_script

APP = {"function_app.py", "host.json", "requirements.txt", "requirements-lock.txt"}
# Never in the package: what local runs, tests, samples and tools need (top-level names or any path part).
NEVER = ("tests", "samples", "localvision", "devhost", "devstack", "bench", "node_modules", "infra", "docs")
NEVER_FILES = ("local.settings.json", "local.settings.json.example", ".funcignore", "azure.yaml", "Makefile")
# Prints the names of the functions function_app declares, run by the interpreter given.
LIST_FUNCTIONS = """
import json, sys
import azure.functions as func
sys.path.insert(0, ".")
import function_app
[app] = [v for v in vars(function_app).values() if isinstance(v, func.FunctionApp)]
print(json.dumps(sorted(f.get_function_name() for f in app.get_functions())))
"""
DEVHOST_FUNCTIONS = """
import json
from pathlib import Path
from devhost.indexing import find_app, import_app_module, index_functions
app = find_app(import_app_module("function_app", Path(".")))
print(json.dumps(sorted(spec.name for spec in index_functions(app))))
"""


def example_settings() -> dict[str, str]:
    values = json.loads((PROJECT_ROOT / "local.settings.json.example").read_text())["Values"]
    # The machine's own environment (pip's index, wheel folder and certificates, proxies) without what would
    # point Python at the development environment.
    inherited = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**inherited, **values}


def run(command: list[str], cwd: Path, timeout: int = 300) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=example_settings(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def package() -> Path:
    done = subprocess.run(
        ["make", "-s", "package"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.is_absolute() and path.suffix == ".zip" and path.is_file(), done.stdout
    return path


def test_the_zip_holds_the_app_and_nothing_else(package: Path) -> None:
    names = zipfile.ZipFile(package).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == APP | {"shared"}, sorted(top)
    assert "shared/__init__.py" in names and "shared/pipeline.py" in names
    for name in names:
        parts = name.split("/")
        assert not set(parts) & set(NEVER), f"{name} does not belong in the package"
        assert parts[-1] not in NEVER_FILES, name
        assert "__pycache__" not in parts and not name.endswith(".pyc"), name
        assert not name.endswith(".jpg"), f"a photo in the package: {name}"


def test_docs_list_what_the_package_holds() -> None:
    text = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    match = re.search(r"What it holds\n\(`python3 scripts/package.py --list`.*?```text\n(.*?)```", text, re.S)
    assert match, "docs/deploy.md lost the package listing"
    listed = match.group(1).split()
    script = load_script("package")
    actual = script.summary(script.package_files())
    assert listed == actual, (
        "regenerate the listing in docs/deploy.md with: python3 scripts/package.py --list"
    )


@pytest.mark.slow
def test_the_unpacked_zip_installs_and_declares_every_function(package: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    zipfile.ZipFile(package).extractall(app)
    venv = tmp_path / "venv"
    run(["python3", "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    # The remote build's step: only what the package's requirements name (requirements.txt applies the lock);
    # without compiling to bytecode, which changes nothing that is installed and halves the time.
    run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "-r",
            "requirements.txt",
        ],
        app,
    )
    declared = json.loads(run([str(python), "-c", LIST_FUNCTIONS], cwd=app))
    indexed = json.loads(run([sys.executable, "-c", DEVHOST_FUNCTIONS], cwd=PROJECT_ROOT))
    assert "classify" in indexed and len(indexed) >= 10, indexed
    assert declared == indexed
    # Nothing from the development environment leaked in: the clean venv has no test or local-stack tooling.
    freeze = run([str(python), "-m", "pip", "freeze"], cwd=app).lower()
    for tool in ("pytest", "ruff", "pycep", "playwright"):
        assert tool not in freeze, f"{tool} got into the clean environment"
