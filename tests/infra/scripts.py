"""The hooks' Python modules (scripts/*.py), imported by file: scripts/ is not a package, as azd runs the
files directly on the deployer's machine."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from devstack.paths import PROJECT_ROOT

SCRIPTS = PROJECT_ROOT / "scripts"


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module (its sibling imports, such as azcli, resolve from scripts/)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)
