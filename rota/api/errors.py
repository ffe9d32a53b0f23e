"""Errors as JSON: ``{"error": kind, "message": what to fix}``, one status per error class."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from rota.api.encode import FastJSON
from rota.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IntakeBlocked,
    NotFound,
    PayloadTooLarge,
    QueueFull,
    RotaError,
    StoreError,
    ValidationError,
)

_STATUS: list[tuple[type[RotaError], int]] = [
    (PayloadTooLarge, 413),
    (BadRequest, 400),
    (ValidationError, 422),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (IntakeBlocked, 503),
    (QueueFull, 429),
    (StoreError, 503),
]


#: what a 503 (intake blocked, store unavailable) asks a client to wait before trying again
RETRY_AFTER_SECONDS = 5


def error_body(exc: RotaError) -> tuple[int, dict[str, Any]]:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
    return status, {"error": type(exc).__name__, "message": str(exc)}


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors[:10]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        detail = (err.get("ctx") or {}).get("error")
        msg = err.get("msg", "invalid") + (f" ({detail})" if detail else "")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(RotaError)
    async def rota_error(_: Request, exc: RotaError) -> Response:
        status, body = error_body(exc)
        retry = status in (429, 503)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else None
        return FastJSON(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> Response:
        body = {"error": "ValidationError", "message": _describe(list(exc.errors()))}
        return FastJSON(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 400:  # FastAPI's words for a body json could not parse
            message = "the body is not JSON: check its syntax, encoding (UTF-8) and nesting"
        headers = exc.headers
        if exc.status_code == 405:
            headers = {"Allow": ", ".join(_allowed(request))}
        body = {"error": "HTTPError", "message": message}
        return FastJSON(body, status_code=exc.status_code, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at this path: Starlette's 405 names only the first
    route's, though a path (``/api/v1/tasks``) may have a route per method."""
    # a literal path wins over a template that also matches it, as in the OpenAPI document:
    # GET /api/v1/tasks/{task_id} matches /api/v1/tasks/batch, which is POST only
    literal = request.app.openapi().get("paths", {}).get(request.url.path)
    if literal is not None:
        return sorted(method.upper() for method in literal)
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]
