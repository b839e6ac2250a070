"""The engine's facade: `Assistant(settings).ask(question, history=())` -> `Answer`."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Iterable, Iterator, Mapping

from .answer import ExtractiveAnswerer, decline, looks_german
from .conversation import as_turns, standalone_query
from .embedder import Embedder, SentenceTransformerEmbedder
from .errors import InvalidQuestion
from .lexical import LexicalIndex, unknown_names, unknown_words
from .retrieve import HybridRetriever
from .text import content_terms
from .settings import Settings
from .store import VectorStore
from .types import Answer, Passage

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
        self._store: VectorStore | None = None
        self._retriever: HybridRetriever | None = None
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
        started = time.perf_counter()
        text = clean_question(question, self.settings.max_question_chars)
        turns = as_turns(history)
        query = standalone_query(text, turns)
        retriever = self.retriever
        timings: dict[str, float] = {}

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
            answer = self.answerer.answer(text, passages, evidence)
        timings["answer"] = (time.perf_counter() - t0) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        log.debug("ask %r grounded=%s in %.0f ms", text[:80], answer.grounded, timings["total"])
        return _with(answer, question=text, timings_ms=timings)

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
        """Text deltas (sentence by sentence), then the final `Answer`."""
        answer = self.ask(question, history, **kwargs)
        parts = re.split(r"(?<=\])\s+", answer.text) if answer.grounded else [answer.text]
        for i, part in enumerate(parts):
            yield part if i == 0 else " " + part
        yield answer

    def stats(self) -> dict[str, Any]:
        """{"documents": N, "chunks": M} for the current index."""
        files = self.store.files()
        return {"documents": len(files), "chunks": sum(len(f.ids) for f in files.values())}


def _with(answer: Answer, **changes: Any) -> Answer:
    from dataclasses import replace

    return replace(answer, **changes)
