"""An OpenAI-compatible chat API under `/v1`, so OpenAI clients (Open WebUI, LibreChat, the `openai` package) can ask.

mount_openai(app, assistant, settings)   adds GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions

One model per index: its id is `settings.collection`. The last user message is the question, earlier user and
assistant messages are the conversation, system messages are ignored (the engine has no prompt to steer).
Errors have OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, on every /v1 path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..assistant import Assistant
from ..conversation import as_turns
from ..settings import Settings
from .auth import WRONG_KEY, key_dependencies
from .body_limit import BodyLimit
from .openai_format import ChatRequest, OpenAIError, completion, engine_error, split_conversation, stream_events

log = logging.getLogger(__name__)

PREFIX = "/v1"
OWNER = "kz-ai-rag"
CREATED = 1763337600  # 2025-11-17: OpenAI's format wants a creation time; a fixed one keeps /v1/models stable
MAX_BODY_BYTES = 1024 * 1024  # clients resend the whole conversation each turn: more room than /api's 64 KB
MAX_HISTORY_TURNS = 50  # older turns are dropped, not refused: a long chat must keep working


# --- the app: auth, error shapes, body limit and routes ------------------------------------------------------------
def make_auth(settings: Settings) -> list[Any]:
    """The route dependencies: the key check (rag/web/auth.py) when the server has a key, none (and no security
    scheme in the OpenAPI document) otherwise."""
    return key_dependencies(settings, lambda: OpenAIError(401, WRONG_KEY, "authentication_error", "invalid_api_key"))


class _ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorOut(BaseModel):
    error: _ErrorDetail


_ERROR_TEXT: dict[int | str, str] = {
    400: "The body is not valid JSON, or the conversation has no question to answer (`message` says which).",
    401: "Missing or wrong API key.",
    404: "No such model (`model_not_found`).",
    413: "The body is larger than the limit.",
    500: "The engine failed; the server's log says why.",
    503: "There is no index yet (`no_index`), or too many questions are in progress (`busy`, with Retry-After).",
    "4XX": "Any other client error, in the same shape.",
}


def error_responses(settings: Settings, *codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses for `codes` (401 only when the server has a key), all in OpenAI's error shape."""
    wanted = [c for c in (*codes, "4XX") if c != 401 or settings.api_key is not None]
    return {c: {"model": OpenAIErrorOut, "description": _ERROR_TEXT[c]} for c in wanted}


Handler = Callable[[Request, Any], Awaitable[Response]]


def _for_v1(app: FastAPI, exc_class: type[Exception], v1: Handler) -> None:
    """Route `exc_class` to `v1` on /v1 paths and to the handler installed before (or FastAPI's) elsewhere."""
    from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler

    default = request_validation_exception_handler if exc_class is RequestValidationError else http_exception_handler
    previous: Handler = app.exception_handlers.get(exc_class, default)  # type: ignore[assignment]

    async def handler(request: Request, exc: Any) -> Response:
        is_v1 = request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")
        return await (v1 if is_v1 else previous)(request, exc)

    app.add_exception_handler(exc_class, handler)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return OpenAIError(400, "the request body is not valid JSON", code="invalid_json").response()
    # No "input" echo: it may be a long conversation, or a secret pasted by mistake.
    where = [".".join(str(p) for p in e.get("loc", ()) if p != "body") for e in errors]
    message = "; ".join(f"{w}: {e.get('msg')}" if w else str(e.get("msg")) for w, e in zip(where, errors))
    return OpenAIError(400, message or "invalid request", param=where[0] if where else None).response()


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    kinds = {401: "authentication_error", 404: "not_found_error"}
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return OpenAIError(exc.status_code, detail, kinds.get(exc.status_code, "invalid_request_error")).response(
        getattr(exc, "headers", None)
    )


async def _openai_error(request: Request, exc: OpenAIError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return exc.response(headers)


def _too_large(message: str) -> Response:
    return OpenAIError(413, message, code="too_large").response()


def busy(message: str, headers: dict[str, str]) -> Response:
    """The 503 of rag.web.admission in OpenAI's shape (its clients retry a 503 after `Retry-After`)."""
    return OpenAIError(503, message, code="busy").response(headers)


def mount_openai(app: FastAPI, assistant: Assistant, settings: Settings) -> None:
    """Add the OpenAI-compatible routes to `app` (before the chat is mounted at "/", which catches the rest)."""
    model_id = settings.collection
    model = {"id": model_id, "object": "model", "created": CREATED, "owned_by": OWNER}
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, prefixes=(PREFIX + "/",), too_large=_too_large)
    app.add_exception_handler(OpenAIError, _openai_error)  # type: ignore[arg-type]
    _for_v1(app, RequestValidationError, _validation_error)
    _for_v1(app, StarletteHTTPException, _http_error)
    deps = make_auth(settings)

    def check_model(name: str | None) -> str:
        if name not in (None, "", model_id):  # no model name: the only one
            raise OpenAIError(
                404,
                f"The model '{name}' does not exist; this server has '{model_id}'",
                param="model",
                code="model_not_found",
            )
        return model_id

    @app.get(
        f"{PREFIX}/models",
        dependencies=deps,
        responses=error_responses(settings, 401),
        tags=["openai"],
        summary="The models (one per index)",
    )
    def list_models() -> dict[str, Any]:
        """OpenAI's model list: one model, named after the index's collection."""
        return {"object": "list", "data": [model]}

    @app.get(
        f"{PREFIX}/models/{{name}}",
        dependencies=deps,
        responses=error_responses(settings, 401, 404),
        tags=["openai"],
        summary="One model",
    )
    def get_model(name: str = Path(..., examples=[model_id])) -> dict[str, Any]:
        """The model, or 404 `model_not_found`."""
        check_model(name)
        return model

    @app.post(
        f"{PREFIX}/chat/completions",
        dependencies=deps,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "A `chat.completion`, or its chunks when `stream`.",
            },
            **error_responses(settings, 400, 401, 404, 413, 500, 503),
        },
        tags=["openai"],
        summary="Answer, OpenAI-style",
    )
    async def chat_completions(body: ChatRequest) -> Response:
        """The last user message answered from the corpus with `[n]` citations (plain or `stream: true`).

        The message also carries `citations` (quote == document text at start:end), `grounded` and
        `url_citation` annotations on each `[n]`."""
        name = check_model(body.model)
        question, history = split_conversation(body.messages)
        turns = as_turns(history)[-MAX_HISTORY_TURNS:]
        prompt = " ".join([question] + [m["content"] for m in history])
        try:
            if not body.stream:
                answer = await run_in_threadpool(assistant.ask, question, turns)
                return JSONResponse(completion(answer, name, prompt))
            events = assistant.stream(question, turns)
            # The first step does the retrieval: a bad question or a missing index is still a 400/503 status.
            first = await run_in_threadpool(next, events)
        except Exception as exc:
            raise engine_error(exc) from exc
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return StreamingResponse(
            stream_events(first, events, name, prompt, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
