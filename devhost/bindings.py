"""Binding expressions and the non-trigger bindings devhost supports: blob input, blob and queue outputs."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from devhost.config import ConfigError, resolve
from devhost.connections import Clients
from devhost.indexing import FunctionSpec

_EXPRESSION = re.compile(r"\{([^{}]+)\}")


def fill(template: str, values: Mapping[str, Any], what: str) -> str:
    """Resolve ``%Setting%`` then ``{name}`` binding expressions (plus ``{rand-guid}`` and ``{DateTime}``)."""
    text = resolve(template, what)

    def lookup(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.lower() == "rand-guid":
            return str(uuid.uuid4())
        if key.lower() == "datetime":
            return datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
        for name, value in values.items():
            if name.lower() == key.lower():
                return str(value)
        raise ConfigError(f"{what}: binding expression {{{key}}} has no value in this invocation")

    return _EXPRESSION.sub(lookup, text)


def split_path(path: str) -> tuple[str, str]:
    container, _, blob = path.partition("/")
    return container, blob


class Out(func.Out):
    """An output binding value the function sets."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def blob_value(spec: FunctionSpec, param: str, data: bytes, stream: func.blob.InputStream) -> Any:
    """Convert blob content to what the parameter asks for: bytes, str, or (default) an InputStream."""
    annotation = spec.annotation_name(param)
    if annotation in ("bytes", "builtins.bytes"):
        return data
    if annotation in ("str", "builtins.str"):
        return data.decode("utf-8")
    return stream


def encode_message(value: Any, encoding: str) -> str:
    """A queue message body as the host writes it (base64 unless host.json says ``none``)."""
    if isinstance(value, func.QueueMessage):
        value = value.get_body()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return base64.b64encode(data).decode("ascii") if encoding == "base64" else data.decode("utf-8")


class BindingRunner:
    """Builds input values before an invocation and writes output values after it."""

    def __init__(self, clients: Clients, message_encoding: str) -> None:
        self.clients = clients
        self.message_encoding = message_encoding

    def inputs(self, spec: FunctionSpec, values: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for binding in spec.bindings:
            name = binding["name"]
            if binding["direction"] == "out" and name != "$return" and binding["type"] != "http":
                kwargs[name] = Out()
            elif binding["type"] == "blob" and binding["direction"] == "in":
                kwargs[name] = self._read_blob(spec, binding, values)
        return kwargs

    def _read_blob(self, spec: FunctionSpec, binding: dict[str, Any], values: Mapping[str, Any]) -> Any:
        path = fill(binding["path"], values, f"function '{spec.name}' binding '{binding['name']}' path")
        container, blob = split_path(path)
        client = self.clients.blob(binding.get("connection")).get_blob_client(container, blob)
        try:
            downloader = client.download_blob()
        except ResourceNotFoundError:
            return None
        data = downloader.readall()
        stream = func.blob.InputStream(data=data, name=path, length=len(data), uri=client.url)
        return blob_value(spec, binding["name"], data, stream)

    def outputs(
        self, spec: FunctionSpec, kwargs: Mapping[str, Any], result: Any, values: Mapping[str, Any]
    ) -> None:
        for binding in spec.bindings:
            if binding["direction"] != "out" or binding["type"] == "http":
                continue
            name = binding["name"]
            value = result if name == "$return" else kwargs[name].get()
            if value is None:
                continue
            what = f"function '{spec.name}' output '{name}'"
            if binding["type"] == "blob":
                self._write_blob(binding, value, fill(binding["path"], values, what))
            else:
                self._send(binding, value, fill(binding["queueName"], values, what))

    def _write_blob(self, binding: dict[str, Any], value: Any, path: str) -> None:
        if isinstance(value, func.InputStream):
            value = value.read()
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        container, blob = split_path(path)
        service = self.clients.blob(binding.get("connection"))
        try:
            service.get_blob_client(container, blob).upload_blob(data, overwrite=True)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                service.create_container(container)
            service.get_blob_client(container, blob).upload_blob(data, overwrite=True)

    def _send(self, binding: dict[str, Any], value: Any, queue: str) -> None:
        client = self.clients.queue(binding.get("connection")).get_queue_client(queue)
        messages = value if isinstance(value, list) else [value]
        for message in messages:
            body = encode_message(message, self.message_encoding)
            try:
                client.send_message(body)
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
                client.send_message(body)
