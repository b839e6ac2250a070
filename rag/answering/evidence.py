"""The evidence step: every sentence of the retrieved passages scored by the learned scorer, and one decision,
"supported or not" (P(support) against the calibrated threshold), that every generator follows.

Sentence vectors come from the index (computed once at ingest) and stay cached by chunk id; only sentences
the index lacks (an index written before sentence vectors existed) are embedded here.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..embedder import Embedder
from ..language_offsets import language_offsets
from ..lexical import LexicalIndex
from ..query import Query
from ..spaces import StoredSentences, sentence_id
from ..text import is_heading, sentence_spans, word_count
from ..types import Passage
from .answer_types import KINDS
from .extension import extension_row, neighbours
from .features import FeatureInputs, Span, feature_rows, question_facts
from .scorer import SentenceScorer
from .support import support_row

log = logging.getLogger(__name__)

MIN_WORDS = 4  # shorter pieces are labels or fragments, not statements to quote
# Chunks whose sentence vectors stay in memory (~8 sentences x 512 floats each: 16 MB at most); the shipped
# corpus fits whole, so after warm-up answering reads no vectors from the store.
CACHED_CHUNKS = 1024


class SentenceSource(Protocol):
    def sentences(self, ids: Sequence[str]) -> StoredSentences: ...


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage; `start`/`end` are offsets into the document text."""

    passage: Passage
    start: int
    end: int
    text: str
    probability: float
    features: tuple[float, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """The scored sentences, most probable answer first, and the threshold an answer must reach."""

    question: str
    query: str
    language: str
    passages: tuple[Passage, ...]
    candidates: tuple[Candidate, ...]
    support: float  # P(the passages answer the question)
    threshold: float
    unknown_names: tuple[str, ...] = ()  # names and numbers of the question the corpus never mentions
    extensions: tuple[Candidate, ...] = ()  # neighbours of the best sentence that hold what it lacks (extension model)
    quote_threshold: float | None = None  # the bar for a quoted answer when `threshold` is an LLM's lower one

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def supported(self) -> bool:
        """Whether the passages answer the question (P(support) reaches the calibrated threshold)."""
        return self.best is not None and self.support >= self.threshold

    @property
    def quotable(self) -> bool:
        """Whether a quoted (extractive) answer may be given: the bar without an LLM, which an LLM's lower one
        (`threshold`) leaves to the verifier; an LLM answer that does not verify falls back to quotes only then."""
        bar = self.threshold if self.quote_threshold is None else self.quote_threshold
        return self.best is not None and self.support >= bar


class EvidenceStep:
    """Scores sentences with `scorer`; without one (while training it) every probability is 0."""

    def __init__(self, scorer: SentenceScorer | None, multilingual: Embedder, threshold: float | None = None, llm: bool = False) -> None:
        """`threshold` overrides the scorer file's; `llm`: an LLM writes the answers and its verifier judges them,
        so the evidence step only holds back what the scorer file's `llm_threshold` declines."""
        self.scorer = scorer
        self._multilingual = multilingual
        self.quote_threshold = threshold if threshold is not None else (scorer.threshold if scorer else 1.0)
        self.threshold = self.quote_threshold if threshold is not None or not llm or scorer is None else scorer.llm_threshold
        self._cache: OrderedDict[str, list[tuple[int, int, np.ndarray]]] = OrderedDict()
        self._lock = threading.Lock()

    def gather(self, question: str, query: Query, passages: Sequence[Passage], lexical: LexicalIndex, sentences: SentenceSource) -> Evidence:
        inputs = self.inputs(query, passages, lexical, sentences)
        return self.decide(question, query, passages, inputs)

    def inputs(self, query: Query, passages: Sequence[Passage], lexical: LexicalIndex, sentences: SentenceSource) -> FeatureInputs:
        """What the scorer reads for this question and these passages (the training script keeps it whole)."""
        kinds = self.scorer.kinds(query.multilingual) if self.scorer else dict.fromkeys(KINDS, 0.5)
        facts = question_facts(query.text, query.language, lexical.idf, lexical.knows, kinds, lexical.share(query.language))
        return FeatureInputs(
            facts,
            np.asarray(query.multilingual, dtype=np.float32),
            tuple(self._spans(passages, sentences)),
            tuple(f"{p.chunk.title}\n{p.chunk.text}" for p in passages),
            tuple(str(p.chunk.meta.get("language") or "") for p in passages),
            tuple(_passage_scores(passages)),
            query.text,
        )

    def decide(self, question: str, query: Query, passages: Sequence[Passage], inputs: FeatureInputs) -> Evidence:
        """Score every candidate sentence and decide, once, whether the passages answer the question."""
        rows = feature_rows(inputs)
        spans = inputs.spans
        probabilities = self.scorer.probabilities(rows) if self.scorer else np.zeros(len(spans), dtype=np.float32)
        support = self.scorer.support_probability(support_row(rows, probabilities)) if self.scorer and len(rows) else 0.0
        candidates = [
            Candidate(passages[s.passage], s.start, s.end, s.text, p, tuple(row))
            for s, p, row in zip(spans, probabilities.tolist(), rows.tolist())
        ]
        candidates.sort(key=lambda c: (-c.probability, c.passage.rank, c.start))
        facts = inputs.facts
        unknown = facts.unknown_names if facts.says_unknown else ()
        return Evidence(
            question, query.text, query.language, tuple(passages), tuple(candidates), support, self.threshold, unknown,
            self._extensions(candidates), self.quote_threshold,
        )

    def _extensions(self, candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
        """The neighbours of the best sentence the extension model says carry the answer it lacks."""
        scorer = self.scorer
        if scorer is None or scorer.extension is None or not candidates:
            return ()
        best = candidates[0]
        keys = [(c.passage.chunk.id, c.start) for c in candidates]
        chosen = []
        for i, after in neighbours(keys, 0):
            row = extension_row(best.features, candidates[i].features, best.probability, candidates[i].probability, after)
            if scorer.extension_probability(row) >= scorer.extension_threshold:
                chosen.append(candidates[i])
        return tuple(chosen)

    def _sentences(self, passages: Sequence[Passage], source: SentenceSource) -> dict[str, list[tuple[int, int, np.ndarray]]]:
        """Each passage chunk's sentences as (start, end, vector): from the cache, else the index, else (an
        index written before sentence vectors existed) embedded now. Chunk ids are content hashes, so a cached
        entry never goes stale: a changed chunk is a new id."""
        with self._lock:
            found = {p.chunk.id: self._cache[p.chunk.id] for p in passages if p.chunk.id in self._cache}
        wanted = [p.chunk for p in passages if p.chunk.id not in found]
        ids = [sentence_id(c.id, i) for c in wanted for i in range(int(c.meta.get("n_sentences") or 0))]
        stored = source.sentences(ids)
        fetched: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        for row, (chunk_id, start, end) in enumerate(zip(stored.chunk_ids, stored.starts, stored.ends)):
            fetched.setdefault(chunk_id, []).append((start, end, stored.vectors[row]))
        lacking = [c for c in wanted if c.id not in fetched]
        if lacking:
            spans = [(c, c.start + a, c.start + b) for c in lacking for a, b in sentence_spans(c.text)]
            log.info("embedding %d sentences the index lacks (re-ingest to store them)", len(spans))
            vectors = self._multilingual.embed_documents([c.text[a - c.start : b - c.start] for c, a, b in spans])
            vectors = language_offsets(self._multilingual.name).passages(vectors, [str(c.meta.get("language") or "") for c, _, _ in spans])
            for (chunk, start, end), vector in zip(spans, vectors):
                fetched.setdefault(chunk.id, []).append((start, end, vector))
        with self._lock:
            for chunk_id, sentences in fetched.items():
                self._cache[chunk_id] = sentences
                self._cache.move_to_end(chunk_id)
            while len(self._cache) > CACHED_CHUNKS:
                self._cache.popitem(last=False)
        return {**found, **fetched}

    def _spans(self, passages: Sequence[Passage], source: SentenceSource) -> list[Span]:
        """The quotable sentences of the passages (each once), with their vectors."""
        sentences = self._sentences(passages, source)
        spans: list[Span] = []
        seen: set[tuple[str, int]] = set()
        for n, passage in enumerate(passages):
            chunk = passage.chunk
            found = sentences.get(chunk.id, [])
            last = max(len(found) - 1, 1)
            for i, (start, end, vector) in enumerate(found):
                text = chunk.text[start - chunk.start : end - chunk.start]
                key = (chunk.source, start)
                if key in seen or is_heading(text) or word_count(text) < MIN_WORDS:
                    continue
                seen.add(key)
                spans.append(Span(n, start, end, text, i / last, vector))
        return spans


def _passage_scores(passages: Sequence[Passage]) -> list[dict[str, float]]:
    """Each passage's retrieval scores, comparable across questions: cosines as they are (a passage a list
    missed gets that list's lowest), BM25 and the fused score relative to the best passage, 1/rank."""
    out = []
    lows = {
        name: min((p.scores[name] for p in passages if name in p.scores), default=0.0) for name in ("dense", "multilingual")
    }
    top_lexical = max((p.scores.get("lexical", 0.0) for p in passages), default=0.0)
    top_fused = max((p.score for p in passages), default=0.0)
    for p in passages:
        out.append(
            {
                "dense": p.scores.get("dense", lows["dense"]),
                "multilingual": p.scores.get("multilingual", lows["multilingual"]),
                "lexical": p.scores.get("lexical", 0.0) / top_lexical if top_lexical > 0 else 0.0,
                "lexical_raw": math.log1p(p.scores.get("lexical", 0.0)),
                "fused": p.score / top_fused if top_fused > 0 else 0.0,
                "rank": 1.0 / max(p.rank, 1),
            }
        )
    return out
