"""Where the project and the local stack's state live."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Pids, logs and data of the `make up` stack; LOCAL_STACK_DIR moves them (a test uses a folder of its own).
LOCAL = Path(os.environ.get("LOCAL_STACK_DIR") or PROJECT_ROOT / ".local")
SETTINGS = PROJECT_ROOT / "local.settings.json"
SETTINGS_EXAMPLE = PROJECT_ROOT / "local.settings.json.example"
HOST_JSON = PROJECT_ROOT / "host.json"


def shown(path: Path) -> Path:
    """``path`` relative to the project when it is inside it (for messages)."""
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
