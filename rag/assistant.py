"""The engine's facade: `Assistant(settings).ask(question, history=())` -> `Answer`."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import Any

from .answer import ExtractiveAnswerer, decline, looks_german
from .conversation import as_turns, standalone_query
from .embedder import Embedder, SentenceTransformerEmbedder
from .errors import InvalidQuestion
from .lexical import LexicalIndex, unknown_names, unknown_words
from .retrieve import HybridRetriever
from .settings import Settings
from .store import VectorStore
from .text import content_terms
from .types import Answer, Passage
from .verify import Verifier

log = logging.getLogger(__name__)

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def clean_question(question: Any, max_chars: int) -> str:
    """The question with control characters removed, or `InvalidQuestion` saying what is wrong with it."""
    if not isinstance(question, str):
        raise InvalidQuestion(f"the question must be text, not {type(question).__name__}")
    if len(question) > max_chars:
        raise InvalidQuestion(f"the question is {len(question):,} characters long; please keep it under {max_chars:,}")
    text = " ".join(_CONTROL.sub(" ", _ANSI_ESCAPE.sub("", question)).split())
    if not text:
        raise InvalidQuestion("the question is empty: type a question about Kazakhstan's AI strategy")
    if not re.search(r"\w", text):
        raise InvalidQuestion("the question has no words in it")
    return text


class Assistant:
    """Retrieval plus answering over one index. Thread-safe for concurrent `ask` calls."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or SentenceTransformerEmbedder(self.settings)
        self.answerer = ExtractiveAnswerer(
            self.embedder,
            threshold=self.settings.refusal_threshold,
            threshold_de=self.settings.refusal_threshold_de,
            min_coverage=self.settings.min_coverage,
            max_sentences=self.settings.max_answer_sentences,
            candidates=self.settings.answer_candidates,
        )
        self.verifier = Verifier(self.embedder, self.settings.verify_threshold, self.settings.verify_mode)
        self._store: VectorStore | None = None
        self._retriever: HybridRetriever | None = None
        self._llm: Any = None
        self._open_lock = threading.Lock()

    # --- parts, opened on first use so that a missing index is reported where it matters -----------------
    @property
    def store(self) -> VectorStore:
        with self._open_lock:
            if self._store is None:
                self._store = VectorStore(self.settings, self.embedder.name)
            return self._store

    @property
    def retriever(self) -> HybridRetriever:
        store = self.store
        with self._open_lock:
            if self._retriever is None:
                self._retriever = HybridRetriever(self.settings, self.embedder, store)
            return self._retriever

    def warm_up(self) -> None:
        """Load the model and indexes now rather than on the first question."""
        self.retriever.lexical()
        self.embedder.embed_query("warm up")

    # --- the public API ------------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, filters: Mapping[str, Any] | None = None) -> list[Passage]:
        """The top `k` passages for a question (hybrid dense + BM25)."""
        text = clean_question(question, self.settings.max_question_chars)
        return self.retriever.retrieve(text, k or self.settings.top_k, filters)

    def ask(
        self,
        question: str,
        history: Iterable = (),  # type: ignore[type-arg]
        *,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Answer:
        """Answer from the corpus with `[n]` citations, or decline (`grounded=False`)."""
        for item in self._run(question, history, k, filters, stream=False):
            if isinstance(item, Answer):
                return item
        raise AssertionError("the engine ended without an answer")  # pragma: no cover

    def _run(
        self,
        question: str,
        history: Iterable,  # type: ignore[type-arg]
        k: int | None,
        filters: Mapping[str, Any] | None,
        stream: bool,
    ) -> Iterator[str | Answer]:
        """The answering pipeline; with `stream` it yields the LLM's draft deltas before the final `Answer`."""
        started = time.perf_counter()
        text = clean_question(question, self.settings.max_question_chars)
        turns = as_turns(history)
        timings: dict[str, float] = {}
        notes: list[str] = []
        query, rewritten = self._standalone(text, turns, notes, timings)
        retriever = self.retriever

        t0 = time.perf_counter()
        query_vector = self.embedder.embed_query(query)
        timings["embed"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        passages = retriever.retrieve(query, k or self.settings.top_k, filters, query_embedding=query_vector)
        timings["retrieve"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        if not passages:
            answer = decline(text, passages)
        else:
            lexical = retriever.lexical()
            unknown = self._unknown_terms(text, lexical)
            evidence = self.answerer.evidence(query, passages, query_vector, unknown, weigh=lexical.idf)
            # The extractive answer is the gate (it declines on weak evidence) and the LLM's fallback.
            answer = self.answerer.answer(text, passages, evidence)
        timings["answer"] = (time.perf_counter() - t0) * 1000
        if answer.grounded and self.settings.uses_llm:
            previous = "" if rewritten or query == text else next((t.user for t in reversed(turns) if t.user.strip()), "")
            answer = yield from self._llm_answer(rewritten or text, passages, answer, previous, notes, timings, stream)
        timings["total"] = (time.perf_counter() - started) * 1000
        log.debug("ask %r grounded=%s in %.0f ms", text[:80], answer.grounded, timings["total"])
        yield _with(answer, question=text, timings_ms=timings, notes=answer.notes + tuple(notes))

    # --- LLM answers -----------------------------------------------------------------------------------------
    def chat_model(self) -> Any:
        """The LangChain chat model of `settings.generator` (built on first use), or None for `extractive`.

        Raises `ConfigError` when the backend cannot be set up (missing package or model file)."""
        if not self.settings.uses_llm:
            return None
        with self._open_lock:
            if self._llm is None:
                from .llm import build_chat_model

                self._llm = build_chat_model(self.settings)
            return self._llm

    def standalone_question(self, question: str, history: Iterable = ()) -> str:  # type: ignore[type-arg]
        """The retrieval query for a possibly follow-up question: the LLM's standalone rewrite when an LLM is
        configured and its rewrite is usable, else the heuristic's (the question plus the previous one)."""
        text = clean_question(question, self.settings.max_question_chars)
        query, _ = self._standalone(text, as_turns(history), [], {})
        return query

    def _standalone(self, text: str, turns: tuple, notes: list[str], timings: dict[str, float]) -> tuple[str, str]:  # type: ignore[type-arg]
        """(retrieval query, the LLM's standalone rewrite or "") for a question that may be a follow-up."""
        heuristic = standalone_query(text, turns)
        if heuristic == text or not (self.settings.uses_llm and self.settings.llm_rewrite_followups):
            return heuristic, ""
        from .llm import failure_note, redact, rewrite_messages, usable_rewrite

        t0 = time.perf_counter()
        try:
            reply = self.chat_model().invoke(rewrite_messages(text, turns), max_tokens=64, stop=["\n"])
            rewrite = usable_rewrite(str(reply.content), text, turns)
            if rewrite is None:
                log.info("LLM follow-up rewrite unusable (%r); using the heuristic", str(reply.content)[:200])
        except Exception as exc:  # noqa: BLE001 - any backend failure falls back to the heuristic
            log.warning("LLM follow-up rewrite failed: %s: %s", type(exc).__name__, redact(str(exc), self.settings)[:300])
            notes.append(failure_note(exc, self.settings))
            rewrite = None
        timings["rewrite"] = (time.perf_counter() - t0) * 1000
        return (rewrite, rewrite) if rewrite else (heuristic, "")

    def _llm_answer(
        self,
        question: str,
        passages: list[Passage],
        extractive: Answer,
        previous: str,
        notes: list[str],
        timings: dict[str, float],
        stream: bool,
    ) -> Generator[str, None, Answer]:
        """The verified LLM answer, or `extractive` with a note when the LLM fails or nothing it says holds up."""
        from .llm import answer_messages, failure_note, redact

        if notes:  # the backend already failed on the rewrite: don't wait for it twice
            return extractive
        messages = answer_messages(question, passages, self.settings.max_answer_sentences, previous)
        t0 = time.perf_counter()
        draft = ""
        finish = None
        try:
            model = self.chat_model()
            if stream:
                for chunk in model.stream(messages):
                    delta = str(chunk.content or "")
                    finish = chunk.response_metadata.get("finish_reason") or finish
                    if delta:
                        draft += delta
                        yield delta
            else:
                reply = model.invoke(messages)
                draft = str(reply.content or "")
                finish = reply.response_metadata.get("finish_reason")
        except Exception as exc:  # noqa: BLE001 - an LLM failure must never reach the user as an error
            log.warning("LLM answer failed: %s: %s", type(exc).__name__, redact(str(exc), self.settings)[:300])
            notes.append(failure_note(exc, self.settings))
            return extractive
        finally:
            timings["generate"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        verified = self.verifier.verify(draft, passages, complete=finish != "length")
        timings["verify"] = (time.perf_counter() - t0) * 1000
        log.debug("LLM draft %r -> %r (dropped %d)", draft[:300], verified.text[:300], len(verified.dropped))
        if not verified.citations:
            notes.append("the LLM's answer could not be verified against the passages; showing the extractive answer")
            return _with(extractive, dropped=verified.dropped + verified.flagged)
        if verified.dropped:
            n = len(verified.dropped)
            notes.append(f"{n} sentence{'s' if n > 1 else ''} of the LLM's answer dropped: the passages do not support {'them' if n > 1 else 'it'}")
        if verified.flagged:
            notes.append("sentences marked (unverified) are not supported by the passages")
        return Answer(
            text=verified.text,
            citations=verified.citations,
            grounded=True,
            question=question,
            related=extractive.related,
            dropped=verified.dropped,
        )

    @staticmethod
    def _unknown_terms(question: str, lexical: LexicalIndex) -> tuple[str, ...]:
        """What an English question names that the corpus never mentions: one unknown name ("Uzbekistan"),
        or two unknown content words that make up a quarter of the question ("premium subscription"), rules
        out an answer. German questions are exempt: the English-heavy corpus lacks most German words."""
        if looks_german(question):
            return ()
        names = unknown_names(lexical, question)
        if names:
            return tuple(names)
        words = unknown_words(lexical, question)
        share = len(words) / max(len(content_terms(question)), 1)
        return tuple(words) if len(words) >= 2 and share >= 0.25 else ()

    def stream(self, question: str, history: Iterable = (), **kwargs: Any) -> Iterator[str | Answer]:  # type: ignore[type-arg]
        """Text deltas, then the final `Answer`.

        Extractive: the answer sentence by sentence (the deltas join to `Answer.text`). LLM: the model's draft
        token by token; the final, verified `Answer` may differ from the draft (sentences dropped, markers
        renumbered, or the extractive answer after a failure) and replaces it."""
        k = kwargs.pop("k", None)
        filters = kwargs.pop("filters", None)
        if kwargs:
            raise TypeError(f"unexpected arguments: {', '.join(kwargs)}")
        drafted = False
        for item in self._run(question, history, k, filters, stream=True):
            if isinstance(item, Answer):
                if not drafted:
                    parts = re.split(r"(?<=\])\s+", item.text) if item.grounded else [item.text]
                    for i, part in enumerate(parts):
                        yield part if i == 0 else " " + part
                yield item
                return
            drafted = True
            yield item

    def stats(self) -> dict[str, Any]:
        """{"documents": N, "chunks": M} for the current index."""
        files = self.store.files()
        return {"documents": len(files), "chunks": sum(len(f.ids) for f in files.values())}


def _with(answer: Answer, **changes: Any) -> Answer:
    from dataclasses import replace

    return replace(answer, **changes)
