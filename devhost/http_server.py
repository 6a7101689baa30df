"""HTTP triggers on a local port: routes under the route prefix, methods, function keys, body limit."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from devhost.eventgrid import WEBHOOK_PATH, BlobWebhook
from devhost.indexing import FunctionSpec
from devhost.invoker import Invoker
from devhost.routes import Route, compile_route

log = logging.getLogger("devhost.http")


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class HttpFunction:
    spec: FunctionSpec
    route: Route
    methods: frozenset[str]  # empty: every method
    auth_level: str  # anonymous | function | admin

    @classmethod
    def from_spec(cls, spec: FunctionSpec) -> HttpFunction:
        trigger = spec.trigger
        methods = frozenset(str(m).upper() for m in (trigger.get("methods") or []))
        return cls(
            spec,
            compile_route(trigger.get("route") or spec.name),
            methods,
            str(trigger.get("authLevel", "function")).lower(),
        )

    def allows(self, method: str) -> bool:
        return not self.methods or method in self.methods


@dataclass(frozen=True)
class Keys:
    function_key: str | None
    master_key: str | None
    blobs_extension_key: str | None = None  # the system key of the blobs extension's webhook

    def accepts(self, level: str, given: str | None) -> bool:
        """``level``: anonymous, function, admin, or system (the blobs webhook: its key or the master key)."""
        if level == "anonymous":
            return True
        if not given:
            return False
        allowed = {
            "admin": [self.master_key],
            "system": [self.blobs_extension_key, self.master_key],
        }.get(level, [self.function_key, self.master_key])
        return any(key and hmac.compare_digest(given.encode(), key.encode()) for key in allowed)


class HttpHost:
    def __init__(
        self,
        specs: list[FunctionSpec],
        route_prefix: str,
        keys: Keys,
        max_body_bytes: int,
        invoker: Invoker,
        executor: Executor,
        status: Callable[[], dict[str, Any]],
        blob_webhook: BlobWebhook | None = None,
    ) -> None:
        # More literal segments first, so `retrain/latest` wins over `retrain/{runId}`.
        functions = [HttpFunction.from_spec(spec) for spec in specs]
        self.functions = sorted(functions, key=lambda f: -f.route.literal_segments)
        self.prefix = f"/{route_prefix}" if route_prefix else ""
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.invoker = invoker
        self.executor = executor
        self.status = status
        self.blob_webhook = blob_webhook

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: every path goes to ``handle`` (a router's ``{path:path}`` would not match a %0a)."""
        if scope["type"] != "http":
            return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    def describe(self, base_url: str) -> list[str]:
        lines = []
        for function in self.functions:
            methods = ",".join(sorted(function.methods)) or "ALL"
            url = f"{base_url}{self.prefix}/{function.route.template.strip('/')}"
            lines.append(f"{function.spec.name}: [{methods}] {url} (auth: {function.auth_level})")
        return lines

    async def handle(self, request: Request) -> Response:
        path = request.scope["path"]  # decoded as sent: request.url.path would drop a \n, \r or \t
        if path in ("", "/"):
            return PlainTextResponse("devhost is running: this Functions app is up.\n")
        if path.rstrip("/") == "/admin/host/status":
            if not self.keys.accepts("admin", _given_key(request)):
                return Response(status_code=401)
            return JSONResponse(self.status())
        if path.rstrip("/").lower() == WEBHOOK_PATH:
            return await self._blob_webhook(request)
        if self.prefix:
            if not (path == self.prefix or path.startswith(self.prefix + "/")):
                return Response(status_code=404)
            path = path[len(self.prefix) :]
        path = path.strip("/")
        candidates = [(f, params) for f in self.functions if (params := f.route.match(path)) is not None]
        if not candidates:
            return Response(status_code=404)
        method = request.method.upper()
        allowed = [(f, params) for f, params in candidates if f.allows(method)]
        if not allowed:
            methods = sorted({m for f, _ in candidates for m in f.methods})
            return Response(status_code=405, headers={"Allow": ", ".join(methods)})
        function, route_params = allowed[0]
        if not self.keys.accepts(function.auth_level, _given_key(request)):
            return Response(status_code=401)
        try:
            body = await self._read_body(request)
        except BodyTooLarge:
            return PlainTextResponse(
                f"Request body is larger than {self.max_body_bytes} bytes.", status_code=413
            )
        http_request = func.HttpRequest(
            method=method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query_params),
            route_params=route_params,
            body=body,
        )
        values = {**dict(request.query_params), **route_params}
        loop = asyncio.get_running_loop()
        extra, out_name = _http_outputs(function.spec)
        reason = f"This function was programmatically called via the host APIs ({method} /{path})."
        try:
            result = await loop.run_in_executor(
                self.executor, lambda: self.invoker.invoke(function.spec, http_request, values, reason, extra)
            )
        except Exception:
            return Response(status_code=500)
        if out_name:
            result = extra[out_name].get()
        return _to_response(result)

    async def _blob_webhook(self, request: Request) -> Response:
        if request.method.upper() != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        if not self.keys.accepts("system", _given_key(request)):
            return Response(status_code=401)
        if self.blob_webhook is None:
            return PlainTextResponse("This app has no blob-triggered function.", status_code=404)
        watch = self.blob_webhook.watch(request.query_params.get("functionName"))
        if isinstance(watch, Response):
            return watch
        try:
            body = await self._read_body(request)
        except BodyTooLarge:
            return PlainTextResponse(
                f"Request body is larger than {self.max_body_bytes} bytes.", status_code=413
            )
        return await self.blob_webhook.handle(request.headers.get("aeg-event-type", ""), watch, body)

    async def _read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body_bytes:
            raise BodyTooLarge
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)


def _given_key(request: Request) -> str | None:
    return request.headers.get("x-functions-key") or request.query_params.get("code")


def _http_outputs(spec: FunctionSpec) -> tuple[dict[str, Any], str | None]:
    """A named ``http`` output binding (``func.Out[func.HttpResponse]``) instead of ``$return``."""
    from devhost.bindings import Out

    for binding in spec.bindings:
        if binding["type"] == "http" and binding["name"] != "$return":
            return {binding["name"]: Out()}, binding["name"]
    return {}, None


def _to_response(result: Any) -> Response:
    if result is None:
        return Response(status_code=204)
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
        media_type = result.mimetype
        if result.charset and media_type and "charset" not in media_type:
            media_type = f"{media_type}; charset={result.charset}"
        if "content-type" not in {k.lower() for k in headers} and media_type:
            headers["Content-Type"] = media_type
        return Response(content=result.get_body(), status_code=result.status_code, headers=headers)
    if isinstance(result, bytes):
        return Response(content=result, media_type="application/octet-stream")
    return PlainTextResponse(str(result))
