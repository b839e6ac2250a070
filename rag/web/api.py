"""The REST API under `/api`: ask (plain and streamed), search, health and feedback.

Every error is a JSON body `{"detail": "<what went wrong>", "error": "<code>"}` with a 4xx/5xx status
(rag/web/api_errors.py); a stack trace never reaches the client. The engine calls block, so the endpoints are
plain `def` functions, which FastAPI runs in its threadpool.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ..assistant import Assistant
from ..errors import EmptyIndex, InvalidQuestion, RagError
from ..feedback import Feedback, FeedbackStore
from ..retrieve import FILTER_KEYS
from ..settings import Settings
from ..types import Answer, passage_to_dict
from .api_errors import error_responses
from .auth import WRONG_KEY, key_dependencies

log = logging.getLogger(__name__)

MAX_K = 50
MAX_HISTORY_TURNS = 50
# What the engine accepts as a question (rag/assistant.py clean_question), declared so that clients and fuzzers
# know it: at most the default RAG_MAX_QUESTION_CHARS, with a word character (Python's Unicode `\w`; a JSON
# Schema pattern is an ECMA-262 regex, whose `\w` is ASCII only, hence the Unicode classes).
QUESTION_SCHEMA = {
    "minLength": 1,
    "maxLength": Settings.model_fields["max_question_chars"].default,
    "pattern": r"[\p{L}\p{N}_]",
}
_FILTER_VALUE = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: not `true` or `"5"`, which pydantic would otherwise take as 1 and 5."""
    if isinstance(value, (bool, str)):
        raise ValueError("must be a JSON integer")  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    return value


K = Annotated[int, Field(ge=1, le=MAX_K), BeforeValidator(_json_integer)]
Filters = Annotated[
    dict[str, str | list[str]],
    WithJsonSchema(
        {"type": "object", "properties": dict.fromkeys(FILTER_KEYS, _FILTER_VALUE), "additionalProperties": False}
    ),
]


# --- request and response bodies -----------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(_Strict):
    question: str = Field(
        ...,
        description="The question, in English or German.",
        examples=["When was the AI law signed?"],
        json_schema_extra=QUESTION_SCHEMA,
    )
    history: list[tuple[str, str]] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns as [user, assistant] pairs, oldest first (for follow-up questions).",
    )
    k: K | None = Field(None, description="Passages to retrieve (default: the server's top_k).")
    filters: Filters | None = Field(
        None, description='Restrict retrieval, e.g. {"language": "de"} or {"source": ["corpus/ai-law-2025.md"]}.'
    )


class SearchRequest(_Strict):
    question: str = Field(..., examples=["AI law labelling of generated content"], json_schema_extra=QUESTION_SCHEMA)
    k: K | None = None
    filters: Filters | None = None


class FeedbackRequest(_Strict):
    rating: Annotated[Literal[1, -1], BeforeValidator(_json_integer)] = Field(
        ..., description="1: helpful, -1: not helpful."
    )
    question: str = Field(..., min_length=1, max_length=20_000, json_schema_extra={"pattern": r"\S"})
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


# --- the routes -----------------------------------------------------------------------------------------------
def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def build_router(assistant: Assistant, settings: Settings, feedback: FeedbackStore) -> APIRouter:
    auth = key_dependencies(settings, lambda: HTTPException(401, WRONG_KEY, headers={"WWW-Authenticate": "Bearer"}))
    errors = error_responses(settings)
    router = APIRouter(prefix="/api", tags=["api"])

    @router.post(
        "/ask",
        response_model=AnswerOut,
        dependencies=auth,
        responses=errors,
        summary="Answer a question with citations",
    )
    def ask(body: AskRequest) -> dict[str, Any]:
        """Answers from the corpus only. Every sentence carries `[n]`, where `citations[n-1].quote` is the exact
        document text at `start:end`. `grounded: false` means the documents do not answer it: `answer` says so
        and `related` lists the closest passages."""
        answer = assistant.ask(body.question, body.history, k=body.k, filters=body.filters)
        return answer.to_dict()

    @router.post(
        "/ask/stream",
        dependencies=auth,
        summary="Answer a question, streamed as server-sent events",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "`delta` events, one `answer`, then `done`."},
            **errors,
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

    @router.post("/search", response_model=SearchOut, dependencies=auth, responses=errors, summary="Retrieve passages")
    def search(body: SearchRequest) -> dict[str, Any]:
        """The top `k` passages (hybrid dense + BM25 retrieval), without answering."""
        passages = assistant.retrieve(body.question, body.k, body.filters)
        question = " ".join(body.question.split())
        return {"question": question, "passages": [passage_to_dict(p) for p in passages]}

    @router.get(
        "/health",
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "There is no index yet (`status: no_index`)."}},
        summary="Index and model status (no key needed)",
    )
    def health() -> JSONResponse:
        base = {"model": assistant.embedder.name, "auth_required": settings.api_key is not None}
        try:
            stats = assistant.stats()
        except EmptyIndex as exc:
            return JSONResponse({"status": "no_index", "detail": str(exc), **base}, status_code=503)
        return JSONResponse({"status": "ok", **stats, **base})

    @router.post("/feedback", response_model=FeedbackOut, dependencies=auth, responses=errors, summary="Rate an answer")
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
