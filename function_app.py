"""The Function app: triggers and bindings only; the pipeline lives in shared/ (see docs/pipeline.md).

Settings are validated at import, so a wrong or missing one stops the app at start-up with a
SettingsError that names it.
"""

from __future__ import annotations

import azure.functions as func

from shared.api import Reply
from shared.console import ConsoleRequest, ConsoleResponse, serve_static
from shared.pipeline import Pipeline

pipeline = Pipeline.from_environment()
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def _http(reply: Reply) -> func.HttpResponse:
    return func.HttpResponse(
        reply.json(), status_code=reply.status, headers=reply.headers, mimetype="application/json"
    )


@app.function_name("classify")
@app.blob_trigger(
    arg_name="image",
    path="%IMAGES_CONTAINER%/{name}",
    connection="PIPELINE_STORAGE",
    source=func.BlobSource.EVENT_GRID,
    data_type=func.DataType.BINARY,
)
def classify(image: func.InputStream) -> None:
    properties = image.blob_properties or {}
    pipeline.classify_blob(
        image.name,
        image.read(),
        properties.get("ETag"),
        properties.get("Length", image.length),
        properties.get("LastModified"),
    )


@app.function_name("classify_poison")
@app.queue_trigger(arg_name="message", queue_name="webjobs-blobtrigger-poison", connection="PIPELINE_STORAGE")
def classify_poison(message: func.QueueMessage) -> None:
    pipeline.classify_poisoned(message.get_body().decode("utf-8", "replace"))


@app.function_name("classify_quick")
@app.route(route="classify", methods=["POST"])
def classify_quick(req: func.HttpRequest) -> func.HttpResponse:
    return _http(pipeline.quick_test(req.get_body(), req.headers.get("Content-Type", "")))


@app.function_name("retrain")
@app.route(route="retrain", methods=["GET", "POST"])
def retrain(req: func.HttpRequest) -> func.HttpResponse:
    if req.method.upper() == "POST":
        return _http(pipeline.retrain_start(req.url))
    return _http(pipeline.retrain_runs())


@app.function_name("retrain_status")
@app.route(route="retrain/{runId}", methods=["GET"])
def retrain_status(req: func.HttpRequest) -> func.HttpResponse:
    return _http(pipeline.retrain_status(req.route_params.get("runId", "")))


@app.function_name("training_import")
@app.route(route="training/import", methods=["POST"])
def training_import(req: func.HttpRequest) -> func.HttpResponse:
    return _http(pipeline.training_import(req.url))


@app.function_name("retrain_scheduled")
@app.timer_trigger(arg_name="timer", schedule="%RETRAIN_SCHEDULE%", run_on_startup=False)
def retrain_scheduled(timer: func.TimerRequest) -> None:
    pipeline.retrain_scheduled()


@app.function_name("retrain_worker")
@app.queue_trigger(arg_name="message", queue_name="%RETRAIN_QUEUE%", connection="PIPELINE_STORAGE")
def retrain_worker(message: func.QueueMessage) -> None:
    pipeline.retrain_step(message.get_body().decode("utf-8", "replace"))


@app.function_name("retrain_poison")
@app.queue_trigger(arg_name="message", queue_name="%RETRAIN_QUEUE%-poison", connection="PIPELINE_STORAGE")
def retrain_poison(message: func.QueueMessage) -> None:
    pipeline.retrain_poisoned(message.get_body().decode("utf-8", "replace"))


# --- the console (docs/console.md): the page anonymous (it carries no data), its data calls with the key --
def _console_http(reply: ConsoleResponse) -> func.HttpResponse:
    return func.HttpResponse(
        reply.body, status_code=reply.status, headers={**reply.headers, "Content-Type": reply.content_type}
    )


@app.function_name("console")
@app.route(route="console/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console(req: func.HttpRequest) -> func.HttpResponse:
    return _console_http(serve_static(req.route_params.get("path") or "", req.url))


@app.function_name("console_api")
@app.route(route="console-api/{*path}", methods=["GET", "POST"])
def console_api(req: func.HttpRequest) -> func.HttpResponse:
    request = ConsoleRequest(
        req.method,
        req.route_params.get("path") or "",
        dict(req.params),
        {k.lower(): v for k, v in req.headers.items()},
        req.get_body(),
    )
    return _console_http(pipeline.console.handle(request))
