"""The error shape of the REST API (`/api`): `{"detail": "<what went wrong>", "error": "<code>"}` and a 4xx/5xx.

install_error_handlers(app)   validation errors, HTTP errors (401/404/405/413), engine errors and anything
                              unexpected all answer in that shape; a stack trace never reaches the client.
error_responses(settings)     the error responses to declare in the OpenAPI document.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, EmptyIndex, InvalidQuestion, RagError
from ..settings import Settings

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    detail: str
    error: str


def error_responses(settings: Settings) -> dict[int | str, dict[str, Any]]:
    """What a body-taking `/api` operation may answer besides 200 (401 only when the server has a key)."""
    responses: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorOut, "description": "The body is not valid JSON."},
        401: {"model": ErrorOut, "description": "Missing or wrong API key."},
        413: {"model": ErrorOut, "description": "The body is larger than the limit."},
        422: {"model": ErrorOut, "description": "The question or another field is not acceptable."},
        500: {"model": ErrorOut, "description": "The engine failed; the server's log says why."},
        503: {"model": ErrorOut, "description": "There is no index yet (`no_index`), or too many questions are in progress (`busy`, with Retry-After)."},
    }
    if settings.api_key is None:
        del responses[401]
    return responses


def error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "error": code}, status_code=status, headers=headers)


def busy(message: str, headers: dict[str, str]) -> JSONResponse:
    """The 503 of rag.web.admission in the REST API's shape."""
    return error(503, "busy", message, headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts)


def _describe(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    where = _loc(tuple(err.get("loc", ())))
    if kind == "extra_forbidden":
        return f"unknown field '{where}'"
    if kind in ("model_attributes_type", "dict_type") and not where:
        return "the body must be a JSON object (sent with Content-Type: application/json)"
    if kind == "missing":
        return f"'{where}' is required" if where else "the request needs a JSON body"
    msg = str(err.get("msg", "invalid value"))
    return f"{where}: {msg}" if where else msg


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            return error(
                400,
                "bad_json",
                f"the request body is not valid JSON ({reason})" if reason else "the request body is not valid JSON",
            )
    message = "; ".join(_describe(e) for e in errors) or "invalid request"
    # No "input" echo: it may be a 60 KB question, or a secret pasted by mistake.
    details = [
        {"loc": _loc(tuple(e.get("loc", ()))), "msg": str(e.get("msg", "")), "type": e.get("type")} for e in errors
    ]
    return JSONResponse({"detail": message, "error": "invalid_request", "errors": details}, status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return error(
        exc.status_code, codes.get(exc.status_code, "http_error"), detail, headers=getattr(exc, "headers", None)
    )


async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
    if isinstance(exc, InvalidQuestion):
        return error(422, "invalid_question", str(exc))
    if isinstance(exc, EmptyIndex):
        return error(503, "no_index", str(exc))
    log.error("engine error on %s: %s", request.url.path, exc)
    code = "config_error" if isinstance(exc, ConfigError) else "engine_error"
    return error(500, code, str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return error(500, "internal_error", "internal error: the server could not answer; see its log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RagError, _rag_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
