"""The engine's facade: `Assistant(settings).ask(question, history=())` -> `Answer`."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from .answering import Evidence, EvidenceStep, ExtractiveGenerator, Generator, SentenceScorer, respond
from .answering.llm import ChatModel, LLMGenerator, rewrite_followup
from .answering.verify import Verifier
from .conversation import as_turns, standalone_query
from .embedder import Embedder, SentenceTransformerEmbedder
from .errors import InvalidQuestion
from .language import detect_language
from .multilingual import build_multilingual
from .query import QueryEncoder
from .retrieve import HybridRetriever
from .settings import Settings
from .store import VectorStore
from .types import Answer, Passage, Turn

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
    """Retrieval plus answering over one index; it wires the parts and holds no answering rules of its own.
    Thread-safe for concurrent `ask` calls."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        multilingual: Embedder | None = None,
        scorer: SentenceScorer | None = None,
    ) -> None:
        self.settings = settings or Settings()  # the Python API is an entry point: settings from the environment
        s = self.settings
        self.embedder = embedder or SentenceTransformerEmbedder(s)
        self.multilingual = multilingual or build_multilingual(s)
        self.encoder = QueryEncoder(
            self.embedder, self.multilingual, max_batch=s.query_batch_size, max_wait_ms=s.query_batch_wait_ms, parallel=True
        )
        self._scorer = scorer
        self._evidence_step: EvidenceStep | None = None
        self.extractive = ExtractiveGenerator(s.max_answer_sentences)
        self.verifier = Verifier(self.multilingual, s.verify_threshold, s.verify_mode)
        self.chat = ChatModel(s)
        self.generator: Generator = LLMGenerator(s, self.chat, self.verifier, self.extractive) if s.uses_llm else self.extractive
        self._store: VectorStore | None = None
        self._retriever: HybridRetriever | None = None
        self._open_lock = threading.Lock()

    # --- parts, opened on first use so that a missing index is reported where it matters -----------------
    @property
    def store(self) -> VectorStore:
        with self._open_lock:
            if self._store is None:
                self._store = VectorStore(self.settings, self.embedder.name, self.multilingual.name)
            return self._store

    @property
    def retriever(self) -> HybridRetriever:
        store = self.store
        with self._open_lock:
            if self._retriever is None:
                self._retriever = HybridRetriever(self.settings, self.encoder, store)
            return self._retriever

    @property
    def scorer(self) -> SentenceScorer:
        """The learned scorer (loaded on first use: retrieval alone does not need it)."""
        with self._open_lock:
            if self._scorer is None:
                self._scorer = SentenceScorer.load(self.settings.scorer_path, self.multilingual.name)
            return self._scorer

    @property
    def evidence_step(self) -> EvidenceStep:
        if self._evidence_step is None:
            self._evidence_step = EvidenceStep(self.scorer, self.multilingual, self.settings.refusal_threshold, self.settings.uses_llm)
        return self._evidence_step

    @evidence_step.setter
    def evidence_step(self, step: EvidenceStep) -> None:
        self._evidence_step = step

    def warm_up(self) -> None:
        """Load the models, the scorer and the indexes (BM25, the in-memory vectors) now rather than on the first question."""
        self.retriever.retrieve(self.encoder.encode("warm up"))
        _ = self.evidence_step

    # --- the public API ------------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, filters: Mapping[str, Any] | None = None) -> list[Passage]:
        """The top `k` passages for a question (hybrid: English dense, multilingual, BM25)."""
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
        for item in self._run(question, history, k, filters):
            if isinstance(item, Answer):
                return item
        raise AssertionError("the engine ended without an answer")  # pragma: no cover

    def evidence(
        self, question: str, history: Iterable = (), *, k: int | None = None, filters: Mapping[str, Any] | None = None  # type: ignore[type-arg]
    ) -> Evidence:
        """The scored sentences behind an answer (why it was given or declined), without generating one."""
        text = clean_question(question, self.settings.max_question_chars)
        query, _, _ = self._standalone(text, as_turns(history))
        return self._gather(text, query, k, filters, {})

    def _gather(self, text: str, query_text: str, k: int | None, filters: Mapping[str, Any] | None, timings: dict[str, float]) -> Evidence:
        retriever = self.retriever
        t0 = time.perf_counter()
        query = self.encoder.encode(query_text, detect_language(text))
        timings["embed"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        # The scorer was calibrated on `top_k` passages: a smaller `k` only trims what is shown (see _run).
        passages = retriever.retrieve(query, max(k or 0, self.settings.top_k), filters)
        timings["retrieve"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        evidence = self.evidence_step.gather(text, query, passages, retriever.lexical(), self.store.sentences)
        timings["evidence"] = (time.perf_counter() - t0) * 1000
        return evidence

    def _run(self, question: str, history: Iterable, k: int | None, filters: Mapping[str, Any] | None) -> Iterator[str | Answer]:  # type: ignore[type-arg]
        """The answering pipeline: the generator's text deltas (LLM drafts), then the final `Answer`."""
        started = time.perf_counter()
        text = clean_question(question, self.settings.max_question_chars)
        turns = as_turns(history)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query, note, rewrote = self._standalone(text, turns)
        if rewrote:
            timings["rewrite"] = (time.perf_counter() - t0) * 1000
        evidence = self._gather(text, query, k, filters, timings)
        # After a failed rewrite the LLM backend is down: don't wait for it twice, quote instead.
        generator = self.extractive if note else self.generator
        t0 = time.perf_counter()
        answer: Answer | None = None
        for part in respond(generator, evidence, turns):
            if isinstance(part, Answer):
                answer = part
            else:
                yield part
        assert answer is not None
        timings["answer"] = timings.pop("evidence") + (time.perf_counter() - t0) * 1000 - sum(answer.timings_ms.values())
        timings.update(answer.timings_ms)
        timings["total"] = (time.perf_counter() - started) * 1000
        log.debug("ask %r grounded=%s in %.0f ms", text[:80], answer.grounded, timings["total"])
        notes = answer.notes + ((note,) if note else ())
        related = answer.related[:k] if k else answer.related
        yield replace(answer, question=text, timings_ms=timings, notes=notes, related=related)

    # --- follow-ups ------------------------------------------------------------------------------------------
    def chat_model(self) -> Any:
        """The LangChain chat model of `settings.generator` (built on first use), or None for `extractive`.

        Raises `ConfigError` when the backend cannot be set up (missing package or model file)."""
        return self.chat.get() if self.settings.uses_llm else None

    def standalone_question(self, question: str, history: Iterable = ()) -> str:  # type: ignore[type-arg]
        """The retrieval query for a possibly follow-up question: the LLM's standalone rewrite when an LLM is
        configured and its rewrite is usable, else the heuristic's (the question plus the previous one)."""
        text = clean_question(question, self.settings.max_question_chars)
        query, _, _ = self._standalone(text, as_turns(history))
        return query

    def _standalone(self, text: str, turns: tuple[Turn, ...]) -> tuple[str, str | None, bool]:
        """(retrieval query, a note if the LLM backend failed, whether the LLM was asked)."""
        heuristic = standalone_query(text, turns)
        if heuristic == text or not (self.settings.uses_llm and self.settings.llm_rewrite_followups):
            return heuristic, None, False
        rewrite, note = rewrite_followup(self.chat, self.settings, text, turns)
        return rewrite or heuristic, note, True

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
        for item in self._run(question, history, k, filters):
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
