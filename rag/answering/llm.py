"""LLM answers: the chat model writes from the passages, the verifier checks each sentence, and the extractive
answer stands in whenever the model fails or nothing it says holds up. Also the LLM's rewriting of follow-up
questions into standalone ones."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..settings import Settings
from ..types import Answer, Turn
from .evidence import Evidence
from .extractive import ExtractiveGenerator
from .generator import decline, final_answer
from .prompts import answer_messages, rewrite_messages, usable_rewrite
from .verify import Verifier

log = logging.getLogger(__name__)


def _backends():  # type: ignore[no-untyped-def]
    """rag.answering.backends, imported when an LLM is used (LangChain takes ~1 s to import; quoting needs none of it)."""
    from . import backends

    return backends


class ChatModel:
    """The settings' LangChain chat model, built on first use (`ConfigError` when it cannot be)."""

    def __init__(self, settings: Settings, factory: Callable[[Settings], Any] | None = None) -> None:
        self._settings = settings
        self._factory = factory
        self._model: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = (self._factory or _backends().build_chat_model)(self._settings)
            return self._model

    def set(self, model: Any) -> None:
        """Use `model` instead (tests script a chat model this way)."""
        with self._lock:
            self._model = model


def rewrite_followup(chat: ChatModel, settings: Settings, question: str, turns: Sequence[Turn]) -> tuple[str | None, str | None]:
    """(the LLM's standalone form of a follow-up or None, a note for the user when the backend failed)."""
    try:
        reply = chat.get().invoke(rewrite_messages(question, turns), max_tokens=64, stop=["\n"])
        rewrite = usable_rewrite(str(reply.content), question, turns)
        if rewrite is None:
            log.info("LLM follow-up rewrite unusable (%r); using the heuristic", str(reply.content)[:200])
        return rewrite, None
    except Exception as exc:  # noqa: BLE001 - any backend failure falls back to the heuristic
        log.warning("LLM follow-up rewrite failed: %s: %s", type(exc).__name__, _backends().redact(str(exc), settings)[:300])
        return None, _backends().failure_note(exc, settings)


def _prompt_question(evidence: Evidence, history: Sequence[Turn]) -> tuple[str, str]:
    """(the question the LLM is asked, the earlier question it follows up on, if the query merely joined them)."""
    last = next((t.user for t in reversed(history) if t.user.strip()), "")
    if last and evidence.query == f"{evidence.question} {last}":
        return evidence.question, last
    return evidence.query or evidence.question, ""


class LLMGenerator:
    """Writes with the chat model, keeps what the passages support, falls back to quoting them."""

    def __init__(self, settings: Settings, chat: ChatModel, verifier: Verifier, fallback: ExtractiveGenerator) -> None:
        self._settings = settings
        self._chat = chat
        self._verifier = verifier
        self._fallback = fallback

    def stream(self, evidence: Evidence, history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        extractive = final_answer(self._fallback.stream(evidence, history))
        question, previous = _prompt_question(evidence, history)
        messages = answer_messages(question, evidence.passages, self._settings.max_answer_sentences, previous)
        timings: dict[str, float] = {}
        notes: list[str] = []
        t0 = time.perf_counter()
        draft = ""
        finish = None
        try:
            model = self._chat.get()
            for chunk in model.stream(messages):
                delta = str(chunk.content or "")
                finish = chunk.response_metadata.get("finish_reason") or finish
                if delta:
                    draft += delta
                    yield delta
        except Exception as exc:  # noqa: BLE001 - an LLM failure must never reach the user as an error
            log.warning("LLM answer failed: %s: %s", type(exc).__name__, _backends().redact(str(exc), self._settings)[:300])
            timings["generate"] = (time.perf_counter() - t0) * 1000
            fallback = extractive if evidence.quotable else decline(evidence)
            yield replace(fallback, notes=(_backends().failure_note(exc, self._settings),), timings_ms=timings)
            return
        timings["generate"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        verified = self._verifier.verify(draft, evidence.passages, complete=finish != "length")
        timings["verify"] = (time.perf_counter() - t0) * 1000
        log.debug("LLM draft %r -> %r (dropped %d)", draft[:300], verified.text[:300], len(verified.dropped))
        if not verified.citations:
            # Below the bar for quotes, the LLM was the judge: an answer it could not support is a refusal.
            if evidence.quotable:
                notes.append("the LLM's answer could not be verified against the passages; showing the extractive answer")
                fallback = extractive
            else:
                notes.append("the LLM's answer could not be verified against the passages")
                fallback = decline(evidence)
            yield replace(fallback, dropped=verified.dropped + verified.flagged, notes=tuple(notes), timings_ms=timings)
            return
        if verified.dropped:
            n = len(verified.dropped)
            notes.append(f"{n} sentence{'s' if n > 1 else ''} of the LLM's answer dropped: the passages do not support {'them' if n > 1 else 'it'}")
        if verified.flagged:
            notes.append("sentences marked (unverified) are not supported by the passages")
        yield Answer(
            text=verified.text,
            citations=verified.citations,
            grounded=True,
            question=question,
            related=extractive.related,
            dropped=verified.dropped,
            notes=tuple(notes),
            timings_ms=timings,
            language=evidence.language,
        )
