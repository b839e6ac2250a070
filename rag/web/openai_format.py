"""OpenAI's chat formats for answers: request bodies, the conversation split, completions and stream chunks.

Pure functions of an `Answer` (no app, no engine calls), used by `openai_api.py`. The reply's content is the
answer with its `[n]` markers and a readable sources list; `citations` (quote == document text at start:end),
`grounded` and `url_citation` annotations travel on the message too.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool

from ..answering.messages import text as label
from ..errors import EmptyIndex, InvalidQuestion, RagError
from ..text import CITATION_MARKER
from ..types import Answer, Citation

log = logging.getLogger(__name__)

# The sources block this API appends; stripped from assistant turns so that history holds only the answers.
_SOURCES_BLOCK = re.compile(r"\n\n[^\n]{1,60}:\n(?:\[\d+\] |- ).*\Z", re.DOTALL)


class OpenAIError(Exception):
    """An error answered as OpenAI's `{"error": {...}}` body with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param

    def body(self) -> dict[str, Any]:
        """The error object as OpenAI sends it."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        """The error as a JSON response."""
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def engine_error(exc: Exception) -> OpenAIError:
    """The OpenAI-style error for an exception of the engine (a stack trace never reaches the client)."""
    if isinstance(exc, InvalidQuestion):
        return OpenAIError(400, str(exc), code="invalid_question", param="messages")
    if isinstance(exc, EmptyIndex):
        return OpenAIError(503, str(exc), "server_error", "no_index")
    if isinstance(exc, RagError):
        log.error("engine error on /v1: %s", exc)
        return OpenAIError(500, str(exc), "server_error", "engine_error")
    log.error("unexpected error on /v1", exc_info=exc)
    return OpenAIError(
        500, "internal error: the server could not answer; see its log", "server_error", "internal_error"
    )


# --- request bodies: open, because clients send many fields (temperature, top_p, tools …) that mean nothing here ---
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


def _non_empty_array(schema: dict[str, Any]) -> None:
    """Declare `messages` as OpenAI does, a non-empty array (null or [] is still taken, and answered with a 400
    that says what is missing)."""
    array = next(s for s in schema.pop("anyOf") if s.get("type") == "array")
    schema.update(array, minItems=1, examples=[[{"role": "user", "content": "When was the AI law signed?"}]])
    schema.pop("default", None)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["messages"]})
    model: str | None = None
    messages: list[ChatMessage] | None = Field(None, json_schema_extra=_non_empty_array)
    stream: bool = Field(False, strict=True)  # not 0 or "false": JSON's true or false
    stream_options: dict[str, Any] | None = None


def message_text(content: str | list[dict[str, Any]] | None) -> str:
    """A message's text: the string itself, or the text parts of OpenAI's list-of-parts form joined."""
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if p.get("type") in ("text", "input_text"))
    return content or ""


def split_conversation(messages: list[ChatMessage] | None) -> tuple[str, list[dict[str, str]]]:
    """(the last user message, the user/assistant messages before it) or a 400."""
    if not messages:
        raise OpenAIError(400, "'messages' must hold at least one message", param="messages")
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    if last is None:
        raise OpenAIError(400, "'messages' has no user message: the last one is the question", param="messages")
    history = [
        {"role": m.role, "content": _SOURCES_BLOCK.sub("", message_text(m.content))}
        for m in messages[:last]
        if m.role in ("user", "assistant")
    ]
    return message_text(messages[last].content), history


# --- what the client shows: the answer, then its sources (or the related passages of a declined answer) ---------
def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def sources_block(answer: Answer) -> str:
    """The readable list appended to the answer: one line per citation, or the closest passages when declined."""
    if answer.citations:
        lines = [f"[{c.n}] {c.title or c.source} — {c.url or c.source} (“{_short(c.quote)}”)" for c in answer.citations]
        return f"\n\n{label('sources', answer.language)}:\n" + "\n".join(lines)
    if not answer.grounded and answer.related:
        head = label("related_head", answer.language)
        lines = [f"- {p.title or p.source} — {p.chunk.url or p.source}: “{_short(p.text)}”" for p in answer.related]
        return f"\n\n{head}:\n" + "\n".join(lines)
    return ""


def citation_dict(citation: Citation) -> dict[str, Any]:
    """A citation without the whole passage (`quote` is the document text at `start:end`)."""
    keys = ("n", "source", "title", "url", "date", "page", "quote", "start", "end", "score")
    full = citation.to_dict()
    return {k: full[k] for k in keys}


def annotations(content: str, answer: Answer, start: int, end: int) -> list[dict[str, Any]]:
    """OpenAI `url_citation` annotations on each `[n]` of content[start:end] whose citation has a URL."""
    by_n = {c.n: c for c in answer.citations}
    found = []
    for match in CITATION_MARKER.finditer(content, start, end):
        citation = by_n.get(int(match.group(1)))
        if citation and citation.url:
            where = {"start_index": match.start(), "end_index": match.end()}
            found.append(
                {
                    "type": "url_citation",
                    "url_citation": {"url": citation.url, "title": citation.title or citation.source, **where},
                }
            )
    return found


def _words(text: str) -> int:
    return len(text.split())  # an approximate token count: whitespace words, there is no tokenizer here


def usage(prompt: str, completion: str) -> dict[str, int]:
    """OpenAI's usage object, counted in whitespace words."""
    p, c = _words(prompt), _words(completion)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def completion(answer: Answer, model: str, prompt: str) -> dict[str, Any]:
    """A `chat.completion` object for an answer, with `citations`, `grounded` and `annotations` on the message."""
    content = answer.text + sources_block(answer)
    message = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": annotations(content, answer, 0, len(answer.text)),
        "citations": [citation_dict(c) for c in answer.citations],
        "grounded": answer.grounded,
    }
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": usage(prompt, content),
    }


async def stream_events(
    first: str | Answer, rest: Any, model: str, prompt: str, include_usage: bool
) -> AsyncIterator[str]:
    """OpenAI's chunk events: role, the answer's deltas, its sources, a last chunk with citations, `[DONE]`."""
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed, answer = "", None
    try:
        item: Any = first
        items = iterate_in_threadpool(rest)  # each step of the engine blocks: keep it off the event loop
        while True:
            if isinstance(item, Answer):
                answer = item
                break
            streamed += item
            yield chunk({"content": item})
            item = await items.__anext__()
    except Exception as exc:  # the status line is gone: say it in the stream, as OpenAI does
        yield f"data: {json.dumps(engine_error(exc).body())}\n\n"
        return
    start, end, tail = 0, len(streamed), ""  # where the answer's [n] markers are in the streamed content
    if " ".join(streamed.split()) != " ".join(answer.text.split()):
        # An LLM draft that verification changed: the client already shows it and cannot retract it, so the
        # checked answer follows (or is the whole text, when nothing was streamed).
        tail = f"\n\n---\n{answer.text}" if streamed else answer.text
        start = len(streamed) + len(tail) - len(answer.text)
        end = start + len(answer.text)
    tail += sources_block(answer)
    if tail:
        yield chunk({"content": tail})
    content = streamed + tail
    yield chunk(
        {
            "citations": [citation_dict(c) for c in answer.citations],
            "grounded": answer.grounded,
            "annotations": annotations(content, answer, start, end),
        },
        "stop",
    )
    if include_usage:
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage(prompt, content)})}\n\n"
    yield "data: [DONE]\n\n"
