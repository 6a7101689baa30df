"""The service's errors: an HTTP status plus the ``{"code", "message"}`` body Custom Vision sends."""

from __future__ import annotations


class ServiceError(Exception):
    """An error answered as ``status`` with body ``{"code": code, "message": message}``."""

    status = 400

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(ServiceError):
    status = 400


class NotFound(ServiceError):
    status = 404


class UnsupportedMediaType(ServiceError):
    status = 415

    def __init__(self, message: str) -> None:
        super().__init__("UnsupportedMediaType", message)


def project_not_found() -> NotFound:
    return NotFound("NotFoundProject", "Project not found")


def iteration_not_found() -> NotFound:
    return NotFound("NotFoundIteration", "Invalid iteration")


def tag_not_found() -> NotFound:
    return NotFound("NotFoundTag", "Tag not found")


def domain_not_found() -> NotFound:
    return NotFound("NotFoundDomain", "Domain not found")


def required(name: str) -> BadRequest:
    return BadRequest("BadRequestRequiredParamIsNull", f"The parameter '{name}' is required")
