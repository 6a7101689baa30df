"""The ASGI app: route, check the caller (key, token or link signature), tier limits and faults, dispatch.

Every error is a catalogued ``ServiceError``; anything else is logged and answered 500 without details.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qsl

from azure.core.exceptions import AzureError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from localvision import exceptions as errors
from localvision.auth import Gate, TrustedIssuer
from localvision.exceptions import ErrorSpec, ServiceError
from localvision.faults import Faults
from localvision.files import FILES_ROOT
from localvision.handlers import Handlers
from localvision.limits import PredictionQuota, Tier
from localvision.routes import Route, match, routes_for, split_path
from localvision.signing import UrlSigner
from localvision.wire.replies import Reply, error_body
from localvision.wire.requests import Call, Query

log = logging.getLogger("localvision")

MAX_BODY_BYTES = 128 * 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"
HEALTH_PATH = "/health"


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, headers, media_type=JSON_TYPE)


def error_response(error: ServiceError, headers: dict[str, str] | None = None) -> Response:
    return json_response(error.status, error_body(error.code, error.message), headers)


def _throttled(spec: ErrorSpec) -> Response:
    return error_response(spec.error(), {"Retry-After": "1"})


class LocalVisionApp:
    """The ASGI application."""

    def __init__(
        self,
        handlers: Handlers,
        signer: UrlSigner,
        training_key: str,
        prediction_key: str,
        tier: Tier | None = None,
        faults: Faults | None = None,
        token_issuer: TrustedIssuer | None = None,
    ) -> None:
        self.handlers = handlers
        self.signer = signer
        self.gate = Gate({"training": training_key, "prediction": prediction_key}, token_issuer)
        self.faults = faults or Faults()
        self.quotas: dict[bool, PredictionQuota] = {}
        if tier:
            self.quotas = {
                False: PredictionQuota(tier.predictions_per_second),
                True: PredictionQuota(tier.nostore_predictions_per_second),
            }

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":  # served with lifespan="off": nothing else arrives
            return
        request = Request(scope, receive)
        response = await self.respond(request, receive)
        if response is not None:
            await response(scope, receive, send)

    async def respond(self, request: Request, receive) -> Response | None:
        if request.scope["path"] == HEALTH_PATH and request.method == "GET":
            return json_response(200, {"status": "ok"})  # for a platform's probes: no key
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        target = split_path(raw_path.split(b"?")[0])
        if target is None:
            return error_response(errors.NOT_CUSTOM_VISION.error())
        routes = routes_for(target)
        if routes is None:
            return error_response(errors.UNKNOWN_API.error(version=target.version, surface=target.surface))
        query_string = request.scope.get("query_string", b"").decode("latin-1")
        if target.surface == "files":
            path = FILES_ROOT + "/" + "/".join(target.segments)
            if not self.signer.verify(path, dict(parse_qsl(query_string))):
                return error_response(errors.LINK_REFUSED.error())
        else:
            refusal = self.gate.refusal(target.surface, request.headers)
            if refusal is not None:
                return json_response(401, refusal)  # the server sends reason phrase "Access Denied"
        route, params, path_exists = match(routes, request.method, target.segments)
        if route is None:
            if path_exists:
                return error_response(errors.METHOD_NOT_ALLOWED.error(method=request.method))
            return error_response(errors.PATH_NOT_FOUND.error())
        try:
            body = await _read_body(request)
        except ServiceError as error:
            return error_response(error)
        if target.surface == "prediction":
            early = await self._prediction_gate(route, receive)
            if early is not False:
                return early
        base_url = f"{request.url.scheme}://{request.url.netloc}{target.prefix}"
        call = Call(params, Query(query_string), request.headers.get("content-type", ""), body, base_url)
        return await run_in_threadpool(self._run, route, call)

    async def _prediction_gate(self, route: Route, receive) -> Response | bool | None:
        """Faults, then the tier's rate limit; False lets the call through."""
        fault = self.faults.prediction_fault()
        if fault == "429":
            return _throttled(errors.FAULT_THROTTLED)
        if fault == "500":
            return error_response(errors.FAULT_INTERNAL.error())
        if fault == "drop":
            _drop_connection(receive)
            return None
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_seconds)
        quota = self.quotas.get(route.nostore)
        if quota and not quota.allow():
            return _throttled(errors.THROTTLED)
        return False

    def _run(self, route: Route, call: Call) -> Response:
        try:
            reply: Reply = getattr(self.handlers, route.operation)(call)
        except ServiceError as error:
            return error_response(error)
        except AzureError:  # the blob store failed after its retries
            log.exception("the state store failed in %s", route.operation)
            return error_response(errors.STORE_UNAVAILABLE.error(), {"Retry-After": "5"})
        except Exception:
            log.exception("unexpected error in %s", route.operation)
            return error_response(errors.INTERNAL.error())
        return Response(reply.encode(), reply.status, reply.headers, media_type=reply.media_type)


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.BODY_TOO_LARGE.error(megabytes=MAX_BODY_BYTES // 2**20)
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
