"""Local settings (local.settings.json) and host configuration (host.json), read as the host reads them."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("devhost")

FUNCTION_KEY_SETTING = "DEVHOST_FUNCTION_KEY"
MASTER_KEY_SETTING = "DEVHOST_MASTER_KEY"
BLOBS_EXTENSION_KEY_SETTING = "DEVHOST_BLOBS_EXTENSION_KEY"  # the host's blobs_extension system key
HOST_ID_SETTING = "AzureFunctionsWebHost__hostid"
LOCAL_MAX_POLLING_SECONDS = 2.0  # the host caps queue polling at 2 s when running locally
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024  # the host's default maxRequestBodySize (100 MB)


class ConfigError(ValueError):
    """local.settings.json or host.json is missing, malformed, or names something that does not exist."""


def parse_timespan(text: str | int | float, what: str) -> float:
    """Seconds from a .NET TimeSpan string (``[d.]hh:mm:ss[.fff]``) as host.json uses them."""
    if isinstance(text, int | float):
        return float(text)
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)", str(text).strip())
    if not match:
        raise ConfigError(f"{what}={text!r} is not a TimeSpan such as 00:00:30")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class BlobOptions:
    max_degree_of_parallelism: int
    poison_blob_threshold: int = 5


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = LOCAL_MAX_POLLING_SECONDS
    message_encoding: str = "base64"


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json devhost honours."""

    route_prefix: str = "api"
    blobs: BlobOptions = field(default_factory=lambda: BlobOptions(max_degree_of_parallelism=8 * _cores()))
    queues: QueueOptions = field(default_factory=QueueOptions)
    function_timeout: float | None = None
    max_request_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def _cores() -> int:
    return os.cpu_count() or 1


def _positive(section: dict[str, Any], key: str, default: int, where: str) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"host.json {where}.{key}={value!r} must be a whole number of 1 or more")
    return value


def load_host_config(path: Path) -> HostConfig:
    """Read host.json; a missing file means every default (as the host would refuse to start, we warn)."""
    if not path.exists():
        log.warning("%s not found: using the host's defaults", path)
        return HostConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    extensions = data.get("extensions") or {}
    http = extensions.get("http") or {}
    blobs = extensions.get("blobs") or {}
    queues = extensions.get("queues") or {}

    batch_size = _positive(queues, "batchSize", 16, "extensions.queues")
    if batch_size > 32:
        raise ConfigError(f"host.json extensions.queues.batchSize={batch_size} must be 32 or less")
    encoding = str(queues.get("messageEncoding", "base64")).lower()
    if encoding not in ("base64", "none"):
        raise ConfigError(f"host.json extensions.queues.messageEncoding={encoding!r} must be base64 or none")
    max_polling = parse_timespan(
        queues.get("maxPollingInterval", "00:01:00"), "extensions.queues.maxPollingInterval"
    )
    timeout = data.get("functionTimeout")
    return HostConfig(
        route_prefix=str(http.get("routePrefix", "api")).strip("/"),
        blobs=BlobOptions(
            max_degree_of_parallelism=_positive(
                blobs, "maxDegreeOfParallelism", 8 * _cores(), "extensions.blobs"
            ),
            poison_blob_threshold=_positive(blobs, "poisonBlobThreshold", 5, "extensions.blobs"),
        ),
        queues=QueueOptions(
            batch_size=batch_size,
            new_batch_threshold=int(queues.get("newBatchThreshold", _cores() * batch_size // 2)),
            max_dequeue_count=_positive(queues, "maxDequeueCount", 5, "extensions.queues"),
            visibility_timeout=parse_timespan(
                queues.get("visibilityTimeout", "00:00:00"), "extensions.queues.visibilityTimeout"
            ),
            max_polling_interval=min(max_polling, LOCAL_MAX_POLLING_SECONDS),
            message_encoding=encoding,
        ),
        function_timeout=parse_timespan(timeout, "functionTimeout") if timeout else None,
    )


@dataclass(frozen=True)
class LocalSettings:
    """local.settings.json: ``Values`` (app settings) and ``Host`` (local host options)."""

    values: dict[str, str]
    http_port: int | None = None
    cors: str | None = None


def load_local_settings(path: Path) -> LocalSettings:
    if not path.exists():
        raise ConfigError(
            f"{path} not found: copy local.settings.json.example to local.settings.json "
            "(or run `make up`, which does it for you)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if data.get("IsEncrypted"):
        raise ConfigError(f"{path} has IsEncrypted=true: devhost reads plain settings only; decrypt it first")
    values = data.get("Values") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: Values must be an object of setting names to strings")
    host = data.get("Host") or {}
    port = host.get("LocalHttpPort")
    return LocalSettings(
        values={str(k): "" if v is None else str(v) for k, v in values.items()},
        http_port=int(port) if port else None,
        cors=host.get("CORS"),
    )


def export_settings(settings: LocalSettings) -> None:
    """Put ``Values`` into os.environ before the app is imported; set variables win, as in Core Tools."""
    for name, value in settings.values.items():
        if name in os.environ and os.environ[name] != value:
            log.info("Skipping '%s' from local settings as it's already defined in the environment", name)
            continue
        os.environ[name] = value


_SETTING_REF = re.compile(r"%([^%]+)%")


def resolve(text: str, what: str) -> str:
    """Replace each ``%Setting%`` with the setting's value, as the host does for paths, queues, schedules."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        value = os.environ.get(name)
        if value is None or value == "":
            raise ConfigError(f"{what} refers to %{name}% but the setting {name} is not defined")
        return value

    return _SETTING_REF.sub(lookup, text)
