"""The REST API under `/api`: ask (plain and streamed), search, health and feedback.

Every error is a JSON body `{"detail": "<what went wrong>", "error": "<code>"}` with a 4xx/5xx status;
a stack trace never reaches the client. The engine calls block, so the endpoints are plain `def`
functions, which FastAPI runs in its threadpool.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..assistant import Assistant
from ..errors import ConfigError, EmptyIndex, InvalidQuestion, RagError
from ..feedback import Feedback, FeedbackStore
from ..settings import Settings
from ..types import Answer, passage_to_dict

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_K = 50
MAX_HISTORY_TURNS = 50

Filters = dict[str, str | list[str]]


# --- request and response bodies -----------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(_Strict):
    question: str = Field(
        ..., description="The question, in English or German.", examples=["When was the AI law signed?"]
    )
    history: list[tuple[str, str]] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns as [user, assistant] pairs, oldest first (for follow-up questions).",
    )
    k: int | None = Field(None, ge=1, le=MAX_K, description="Passages to retrieve (default: the server's top_k).")
    filters: Filters | None = Field(
        None, description='Restrict retrieval, e.g. {"language": "de"} or {"source": ["corpus/ai-law-2025.md"]}.'
    )


class SearchRequest(_Strict):
    question: str = Field(..., examples=["AI law labelling of generated content"])
    k: int | None = Field(None, ge=1, le=MAX_K)
    filters: Filters | None = None


class FeedbackRequest(_Strict):
    rating: Literal[1, -1] = Field(..., description="1: helpful, -1: not helpful.")
    question: str = Field(..., min_length=1, max_length=20_000)
    answer: str = Field(..., max_length=40_000)
    citations: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_K)
    comment: str = Field("", max_length=2000)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SourceOut(_Open):
    title: str
    url: str
    date: str = ""


class CitationOut(_Open):
    n: int
    source: str
    title: str
    quote: str = Field(..., description="Exactly the document text between `start` and `end`.")
    start: int
    end: int
    url: str | None = None
    date: str | None = None
    page: int | None = None
    score: float
    chunk_id: str | None = None
    passage: str | None = Field(None, description="The retrieved passage the quote was taken from.")
    passage_start: int | None = Field(None, description="Offset of `passage` in the document.")
    sources: list[SourceOut] = Field(default_factory=list, description="Original sources of the document.")


class PassageOut(_Open):
    rank: int
    score: float
    id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    url: str | None = None
    date: str | None = None
    page: int | None = None


class AnswerOut(_Open):
    question: str
    answer: str = Field(..., description="The answer; `[n]` refers to `citations[n-1]`.")
    grounded: bool = Field(..., description="False when the documents do not answer the question (then see `related`).")
    citations: list[CitationOut]
    related: list[PassageOut] = Field(
        ..., description="The closest passages (the thing to show when `grounded` is false)."
    )
    dropped: list[str] = []
    notes: list[str] = []
    timings_ms: dict[str, float] = {}


class SearchOut(BaseModel):
    question: str
    passages: list[PassageOut]


class HealthOut(_Open):
    status: Literal["ok", "no_index"]
    documents: int | None = None
    chunks: int | None = None
    model: str
    auth_required: bool
    detail: str | None = None


class FeedbackOut(BaseModel):
    id: int
    stored: bool = True


class ErrorOut(BaseModel):
    detail: str
    error: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON."},
    401: {"model": ErrorOut, "description": "Missing or wrong API key (only when the server has one)."},
    413: {"model": ErrorOut, "description": "The body is larger than the limit."},
    422: {"model": ErrorOut, "description": "The question or another field is not acceptable."},
    503: {"model": ErrorOut, "description": "There is no index yet."},
}


# --- errors ---------------------------------------------------------------------------------------------------
def error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "error": code}, status_code=status, headers=headers)


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


# --- request body limit ---------------------------------------------------------------------------------------
class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 1024} KB")


class BodyLimit:
    """ASGI middleware: 413 for a body over `limit` bytes on paths under `prefixes` (Content-Length or streamed)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES, prefixes: tuple[str, ...] = ("/api/",)) -> None:
        self.app = app
        self.limit = limit
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        try:
            too_big = declared is not None and int(declared) > self.limit
        except ValueError:
            too_big = False
        if too_big:
            await error(413, "too_large", f"the request body is larger than {self.limit // 1024} KB")(
                scope, receive, send
            )
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge as exc:  # raised outside FastAPI's handlers (it usually answers through them)
            if started:
                raise
            await error(413, "too_large", str(exc.detail))(scope, receive, send)


# --- authentication -------------------------------------------------------------------------------------------
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's API key (RAG_API_KEY).")
_bearer = HTTPBearer(auto_error=False, description="The server's API key as a bearer token.")


def make_auth(settings: Settings):  # type: ignore[no-untyped-def]
    """A dependency that accepts the key from `X-API-Key` or `Authorization: Bearer`; a no-op without a key."""
    expected = settings.api_key.get_secret_value().encode() if settings.api_key else None

    def require_key(
        key: Annotated[str | None, Depends(_key_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if expected is None:
            return
        given = key or (bearer.credentials if bearer else None)
        if given is None or not secrets.compare_digest(given.encode(), expected):
            raise HTTPException(
                401,
                "missing or wrong API key: send it as the X-API-Key header or as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_key


# --- the routes -----------------------------------------------------------------------------------------------
def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def build_router(assistant: Assistant, settings: Settings, feedback: FeedbackStore) -> APIRouter:
    auth = make_auth(settings)
    router = APIRouter(prefix="/api", tags=["api"], responses=_ERRORS)

    @router.post(
        "/ask", response_model=AnswerOut, dependencies=[Depends(auth)], summary="Answer a question with citations"
    )
    def ask(body: AskRequest) -> dict[str, Any]:
        """Answers from the corpus only. Every sentence carries `[n]`, where `citations[n-1].quote` is the exact
        document text at `start:end`. `grounded: false` means the documents do not answer it: `answer` says so
        and `related` lists the closest passages."""
        answer = assistant.ask(body.question, body.history, k=body.k, filters=body.filters)
        return answer.to_dict()

    @router.post(
        "/ask/stream",
        dependencies=[Depends(auth)],
        summary="Answer a question, streamed as server-sent events",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "`delta` events, one `answer`, then `done`."}
        },
    )
    def ask_stream(body: AskRequest) -> StreamingResponse:
        """Server-sent events: `event: delta` with `{"text": "..."}` (append them in order), then one
        `event: answer` whose data is the same JSON as `/api/ask` returns, then `event: done`."""
        events = assistant.stream(body.question, body.history, k=body.k, filters=body.filters)
        first = next(events)  # the engine works here: a bad question or a missing index is still a 4xx/503

        def generate() -> Iterator[str]:
            try:
                for item in _chain(first, events):
                    if isinstance(item, Answer):
                        yield _sse("answer", item.to_dict())
                    else:
                        yield _sse("delta", {"text": item})
            except Exception as exc:  # the status line is gone; report it in the stream instead
                log.exception("error while streaming an answer")
                yield _sse("error", {"detail": str(exc) if isinstance(exc, RagError) else "internal error"})
            yield _sse("done", {})

        return StreamingResponse(
            generate(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @router.post("/search", response_model=SearchOut, dependencies=[Depends(auth)], summary="Retrieve passages")
    def search(body: SearchRequest) -> dict[str, Any]:
        """The top `k` passages (hybrid dense + BM25 retrieval), without answering."""
        passages = assistant.retrieve(body.question, body.k, body.filters)
        question = " ".join(body.question.split())
        return {"question": question, "passages": [passage_to_dict(p) for p in passages]}

    @router.get("/health", response_model=HealthOut, summary="Index and model status (no key needed)")
    def health() -> JSONResponse:
        base = {"model": assistant.embedder.name, "auth_required": settings.api_key is not None}
        try:
            stats = assistant.stats()
        except EmptyIndex as exc:
            return JSONResponse({"status": "no_index", "detail": str(exc), **base}, status_code=503)
        return JSONResponse({"status": "ok", **stats, **base})

    @router.post("/feedback", response_model=FeedbackOut, dependencies=[Depends(auth)], summary="Rate an answer")
    def post_feedback(body: FeedbackRequest) -> dict[str, Any]:
        """Thumbs up (1) or down (-1) on an answer; export with `python -m rag feedback --export f.jsonl`."""
        if not body.question.strip():
            raise InvalidQuestion("the question is empty")
        row = feedback.add(
            Feedback(
                rating=body.rating,
                question=body.question,
                answer=body.answer,
                citations=body.citations,
                channel="api",
                comment=body.comment,
            )
        )
        return {"id": row, "stored": True}

    return router


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
