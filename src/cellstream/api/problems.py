"""The one place that turns errors into HTTP answers.

Every error body has emnify's shape, `{"error_code", "error_token", "message"}`, plus `errors` listing each
bad field when the input was at fault. FastAPI's own validation errors are mapped the same way: a bad
query, path or header parameter is a 400 (emnify's "incorrect paging or sorting parameter"), a bad body
a 422. Anything unexpected becomes a 500 that says nothing about the internals (it is logged instead).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cellstream.api.ratelimit import RateLimited
from cellstream.errors import (
    BadParameter,
    CellstreamError,
    FieldProblem,
    InvalidInput,
    RetryableError,
    Unprocessable,
)

log = logging.getLogger(__name__)
_HTTP_TOKENS = {404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable", 415: "UnsupportedMediaType"}


def problem(status: int, token: str, message: str, errors: list[dict[str, str]] | None = None,
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error_code": status, "error_token": token, "message": message}
    if errors:
        body["errors"] = errors
    if status == 401:  # RFC 9110: a 401 names the scheme to use
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(item: FieldProblem) -> dict[str, str]:
    out = {"field": item.field, "message": item.problem}
    if item.where:
        out["where"] = item.where  # e.g. "body[3]" or "body:12": which event of a batch
    return out


async def _cellstream_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, CellstreamError):  # pragma: no cover - registered for CellstreamError only
        return await _unexpected(request, exc)
    if exc.status >= 500:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc.message)
        retry = {"Retry-After": "1"} if isinstance(exc, RetryableError) else None
        text = "the store is unavailable; try again" if exc.status == 503 else "internal error"
        return problem(exc.status, exc.token, text, headers=retry)
    errors = [_field(p) for p in exc.problems] if isinstance(exc, InvalidInput) else None
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimited) else None
    return problem(exc.status, exc.token, exc.message, errors, headers)


def _location(loc: tuple[Any, ...]) -> tuple[str, str]:
    """('query', 'page') -> ('query', 'page'); ('body', 'status', 'id') -> ('body', 'status.id')."""
    if not loc:
        return "body", "body"
    where = str(loc[0])
    return where, ".".join(str(part) for part in loc[1:]) or where


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    raw = exc.errors() if isinstance(exc, RequestValidationError) else []
    errors, in_params = [], False
    for item in raw:
        where, field = _location(tuple(item.get("loc", ())))
        in_params = in_params or where != "body"
        errors.append({"field": field, "message": str(item.get("msg", "is not valid"))})
    kind = BadParameter if in_params else Unprocessable
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request is not valid"
    return problem(kind.status, kind.token, message, errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        return await _unexpected(request, exc)
    token = _HTTP_TOKENS.get(exc.status_code, "HTTPError")
    return problem(exc.status_code, token, str(exc.detail), headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, CellstreamError.token, "internal error")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CellstreamError, _cellstream_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
