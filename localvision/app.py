"""Routes and the ASGI app: raw-path routing, key checks, tier limits and faults, then the handler.

Paths are split on the RAW path before percent-decoding (the SDK sends ``%2F`` inside path parameters);
literal segments match case-insensitively; anything may come before ``/customvision/``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from localvision import responses as wire
from localvision.exceptions import ServiceError
from localvision.faults import Faults
from localvision.handlers import Handlers
from localvision.limits import RateLimiter, Tier
from localvision.responses import Call, Query, Reply

log = logging.getLogger("localvision")

TRAINING_VERSIONS = {"v3.0", "v3.1", "v3.2", "v3.3", "v3.4-preview"}
PREDICTION_VERSIONS = {"v3.0", "v3.1"}
MAX_BODY_BYTES = 128 * 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"

Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[str, ...]  # literal (lowercase) or "{name}"
    operation: str  # the Handlers method
    nostore: bool = False


def _route(method: str, path: str, operation: str) -> Route:
    segments = tuple(s if s.startswith("{") else s.lower() for s in path.strip("/").split("/"))
    return Route(method, segments, operation, nostore=path.endswith("/nostore"))


P = "projects/{projectId}"
IT = f"{P}/iterations/{{iterationId}}"
TRAINING_ROUTES = [
    _route("GET", "domains", "get_domains"),
    _route("GET", "domains/{domainId}", "get_domain"),
    _route("GET", "projects", "get_projects"),
    _route("POST", "projects", "create_project"),
    _route("POST", "projects/import", "not_supported"),
    _route("GET", P, "get_project"),
    _route("PATCH", P, "update_project"),
    _route("DELETE", P, "delete_project"),
    _route("GET", f"{P}/export", "not_supported"),
    _route("GET", f"{P}/artifacts", "not_supported"),
    _route("GET", f"{P}/tags", "get_tags"),
    _route("POST", f"{P}/tags", "create_tag"),
    _route("GET", f"{P}/tags/{{tagId}}", "get_tag"),
    _route("PATCH", f"{P}/tags/{{tagId}}", "update_tag"),
    _route("DELETE", f"{P}/tags/{{tagId}}", "delete_tag"),
    _route("GET", f"{P}/images", "get_images"),
    _route("POST", f"{P}/images", "create_images_from_data"),
    _route("DELETE", f"{P}/images", "delete_images"),
    _route("GET", f"{P}/images/count", "get_image_count"),
    _route("POST", f"{P}/images/files", "create_images_from_files"),
    _route("POST", f"{P}/images/urls", "create_images_from_urls"),
    _route("POST", f"{P}/images/predictions", "not_supported"),
    _route("GET", f"{P}/images/id", "get_images_by_ids"),
    _route("POST", f"{P}/images/metadata", "update_image_metadata"),
    _route("GET", f"{P}/images/tagged", "get_tagged_images"),
    _route("GET", f"{P}/images/tagged/count", "get_tagged_image_count"),
    _route("GET", f"{P}/images/untagged", "get_untagged_images"),
    _route("GET", f"{P}/images/untagged/count", "get_untagged_image_count"),
    _route("POST", f"{P}/images/tags", "create_image_tags"),
    _route("DELETE", f"{P}/images/tags", "delete_image_tags"),
    _route("POST", f"{P}/images/regions", "not_supported"),
    _route("DELETE", f"{P}/images/regions", "not_supported"),
    _route("POST", f"{P}/images/suggested", "not_supported"),
    _route("POST", f"{P}/images/suggested/count", "not_supported"),
    _route("POST", f"{P}/images/{{imageId}}/regionproposals", "not_supported"),
    _route("POST", f"{P}/train", "train_project"),
    _route("GET", f"{P}/iterations", "get_iterations"),
    _route("GET", IT, "get_iteration"),
    _route("PATCH", IT, "update_iteration"),
    _route("DELETE", IT, "delete_iteration"),
    _route("POST", f"{IT}/publish", "publish_iteration"),
    _route("DELETE", f"{IT}/publish", "unpublish_iteration"),
    _route("GET", f"{IT}/performance", "get_iteration_performance"),
    _route("GET", f"{IT}/performance/images", "not_supported"),
    _route("GET", f"{IT}/performance/images/count", "not_supported"),
    _route("GET", f"{IT}/export", "not_supported"),
    _route("POST", f"{IT}/export", "not_supported"),
    _route("POST", f"{P}/quicktest/image", "quick_test_image"),
    _route("POST", f"{P}/quicktest/url", "quick_test_image_url"),
    _route("POST", f"{P}/predictions/query", "not_supported"),
    _route("DELETE", f"{P}/predictions", "not_supported"),
    _route("POST", f"{P}/tagsandregions/suggestions", "not_supported"),
]
C = "{projectId}/classify/iterations/{publishedName}"
D = "{projectId}/detect/iterations/{publishedName}"
PREDICTION_ROUTES = [
    _route("POST", f"{C}/image", "classify_image"),
    _route("POST", f"{C}/image/nostore", "classify_image"),
    _route("POST", f"{C}/url", "classify_image_url"),
    _route("POST", f"{C}/url/nostore", "classify_image_url"),
    _route("POST", f"{D}/image", "detect"),
    _route("POST", f"{D}/image/nostore", "detect"),
    _route("POST", f"{D}/url", "detect"),
    _route("POST", f"{D}/url/nostore", "detect"),
]


def match(routes: list[Route], method: str, segments: list[str]) -> tuple[Route | None, dict[str, str], bool]:
    """The route for raw ``segments``, its decoded parameters, and whether the path exists at all."""
    path_exists = False
    for route in routes:
        if len(route.segments) != len(segments):
            continue
        params: dict[str, str] = {}
        for pattern, segment in zip(route.segments, segments, strict=True):
            if pattern.startswith("{"):
                params[pattern[1:-1]] = unquote(segment)
            elif pattern != unquote(segment).lower():
                break
        else:
            path_exists = True
            if route.method == method:
                return route, params, True
    return None, {}, path_exists


def split_path(raw_path: bytes) -> tuple[str, str, list[str]] | None:
    """``.../customvision/{version}/{surface}/...`` -> (surface, version, rest segments); None if not ours."""
    segments = raw_path.decode("latin-1").split("/")
    for index, segment in enumerate(segments):
        if segment.lower() == "customvision" and len(segments) > index + 2:
            version, surface = segments[index + 1].lower(), segments[index + 2].lower()
            rest = [s for s in segments[index + 3 :] if s != ""]
            return surface, version, rest
    return None


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, headers, media_type=JSON_TYPE)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, wire.error_body(code, message), headers)


class LocalVisionApp:
    """The ASGI application."""

    def __init__(
        self,
        handlers: Handlers,
        training_key: str,
        prediction_key: str,
        tier: Tier | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.handlers = handlers
        self.keys = {"training": training_key, "prediction": prediction_key}
        self.faults = faults or Faults()
        self.limiters: dict[bool, RateLimiter] = {}
        if tier:
            self.limiters = {
                False: RateLimiter(tier.predictions_per_second),
                True: RateLimiter(tier.nostore_predictions_per_second),
            }

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.respond(request, receive)
        if response is not None:
            await response(scope, receive, send)

    async def respond(self, request: Request, receive) -> Response | None:
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        parts = split_path(raw_path.split(b"?")[0])
        if parts is None:
            return error_response(
                404, "NotFound", "Not a Custom Vision path: use /customvision/{version}/..."
            )
        surface, version, segments = parts
        if surface == "training" and version in TRAINING_VERSIONS:
            routes = TRAINING_ROUTES
        elif surface == "prediction" and version in PREDICTION_VERSIONS:
            routes = PREDICTION_ROUTES
        else:
            return error_response(404, "NotFound", f"Unknown API '{version}/{surface}'")
        key = request.headers.get(f"{surface}-key", "")
        if not hmac.compare_digest(key.encode(), self.keys[surface].encode()):
            return json_response(401, wire.ACCESS_DENIED)  # the server sends reason phrase "Access Denied"
        route, params, path_exists = match(routes, request.method, segments)
        if route is None:
            if path_exists:
                return error_response(405, "BadRequestNotSupported", f"{request.method} is not allowed here")
            return error_response(404, "NotFound", "Resource not found")
        try:
            body = await _read_body(request)
        except ServiceError as error:
            return error_response(error.status, error.code, error.message)
        if surface == "prediction":
            early = await self._prediction_gate(route, receive)
            if early is not False:
                return early
        query = Query(request.scope.get("query_string", b"").decode("latin-1"))
        call = Call(params, query, request.headers.get("content-type", ""), body)
        return await run_in_threadpool(self._run, route, call)

    async def _prediction_gate(self, route: Route, receive) -> Response | bool | None:
        """Faults, then the tier's rate limit; False lets the call through."""
        fault = self.faults.prediction_fault()
        if fault == "429":
            return _throttled("Rate limit is exceeded (localvision fault injection). Try again in 1 seconds.")
        if fault == "500":
            return error_response(500, "ErrorUnknown", "Internal server error (localvision fault injection)")
        if fault == "drop":
            _drop_connection(receive)
            return None
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_seconds)
        limiter = self.limiters.get(route.nostore)
        if limiter and not limiter.allow():
            return _throttled("Rate limit is exceeded. Try again in 1 seconds.")
        return False

    def _run(self, route: Route, call: Call) -> Response:
        try:
            reply = getattr(self.handlers, route.operation)(call)
        except ServiceError as error:
            return error_response(error.status, error.code, error.message)
        except Exception:
            log.exception("unexpected error in %s", route.operation)
            return error_response(500, "ErrorUnknown", "Internal server error: see the localvision log")
        return Response(reply.encode(), reply.status, reply.headers, media_type=JSON_TYPE)


def _throttled(message: str) -> Response:
    return error_response(429, "429", message, {"Retry-After": "1"})


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ServiceError(
                "BadRequestImageBatch", f"The request body is over {MAX_BODY_BYTES // 2**20} MB"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _drop_connection(receive) -> None:
    """Close the connection without an answer (uvicorn's h11 protocol: abort the transport)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: not served by uvicorn's h11 protocol")
    transport.abort()
    cycle.disconnected = True
