"""Test app: HTTP routes at each auth level, route parameters and constraints, and a slow route."""

import json
import time

import azure.functions as func
from record import record

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="hello/{name}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hello {req.route_params['name']}", headers={"X-Test": "yes"})


@app.route(route="items/{id:int}/{tag?}", methods=["GET", "PUT"])
def items(req: func.HttpRequest) -> func.HttpResponse:
    payload = {"route": dict(req.route_params), "params": dict(req.params), "method": req.method}
    return func.HttpResponse(json.dumps(payload), status_code=201, mimetype="application/json")


@app.route(route="echo", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin ok")


@app.route(route="broken", auth_level=func.AuthLevel.ANONYMOUS)
def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("failing on purpose")


@app.route(route="slow", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def slow(req: func.HttpRequest) -> func.HttpResponse:
    record("slow", "started")
    time.sleep(float(req.params.get("seconds", "2")))
    record("slow", "finished")
    return func.HttpResponse("slow done")
