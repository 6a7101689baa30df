"""Checks every test applies to what the pipeline produces: documents, run records and error replies
match their published JSON Schema (docs/schemas/), their error messages come from the catalogue, and
nothing an engineer alone should see (a repr, a traceback, an exception class name) leaks into them."""

from __future__ import annotations

import builtins
import json
import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from shared import catalogue
from shared.schemas import SCHEMA_DIR

# Exception classes whose names must never reach a user: Python's own and those of the SDKs we call.
BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
EXCEPTION_NAMES = sorted(
    BUILTIN_EXCEPTIONS
    | {
        "HttpOperationError", "ClientRequestError", "CustomVisionErrorException", "ResourceNotFoundError",
        "ResourceExistsError", "ResourceModifiedError", "HttpResponseError", "ServiceRequestError",
        "UnidentifiedImageError", "DecompressionBombError", "FetchError", "PipelineError", "PermanentError",
        "TransientError", "ContractError", "SettingsError", "MaxRetryError", "NewConnectionError",
    }
)  # fmt: skip
LEAKS = re.compile(r"object at 0x|Traceback|\b(" + "|".join(map(re.escape, EXCEPTION_NAMES)) + r")\b")


@cache
def validator(file_name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / file_name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_no_leak(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False)
    found = LEAKS.search(text)
    assert found is None, f"{found.group(0)!r} must not reach a user: {text[:2000]}"


def assert_catalogued(error: dict[str, Any]) -> None:
    code, message = error.get("code"), error.get("message")
    assert catalogue.matches(code, message), f"{code}: {message!r} is not the catalogue's message"


def _check(file_name: str, data: dict[str, Any]) -> None:
    errors = sorted(validator(file_name).iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, f"{file_name}: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]
    )
    assert_no_leak(data)


def check_document(document: dict[str, Any]) -> dict[str, Any]:
    """Validate a result or error document; return it."""
    if document.get("status") == "error":
        _check("error-document.schema.json", document)
        assert_catalogued(document["error"])
    else:
        _check("result-document.schema.json", document)
    return document


def check_run(record: dict[str, Any]) -> dict[str, Any]:
    """Validate a run record; return it."""
    _check("run-record.schema.json", record)
    if record.get("error"):
        assert_catalogued(record["error"])
    for failure in record["sync"]["failures"]:
        assert_catalogued(failure)
    return record


def check_problem(body: dict[str, Any]) -> dict[str, Any]:
    """Validate an HTTP error reply {"error": {"code", "message"}}; return it."""
    assert set(body) == {"error"}, body
    assert_catalogued(body["error"])
    assert_no_leak(body)
    return body


def check_reply(body: Any) -> Any:
    """Whatever an endpoint answered: a document, a run record, a list of runs or an error reply."""
    if isinstance(body, dict) and "runs" in body:
        for run in body["runs"]:
            check_run(run)
    elif isinstance(body, dict) and "runId" in body and "sync" in body:
        check_run(body)
    elif isinstance(body, dict) and "schemaVersion" in body:
        check_document(body)
    elif isinstance(body, dict) and set(body) == {"error"}:
        check_problem(body)
    else:
        assert_no_leak(body)
    return body
