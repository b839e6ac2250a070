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
from ..lexical import LexicalIndex
from ..query import Query
from ..spaces import StoredSentences, sentence_id
from ..text import is_heading, sentence_spans, word_count
from ..types import Passage
from .features import Span, feature_rows, question_facts
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

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def supported(self) -> bool:
        """Whether the passages answer the question (P(support) reaches the calibrated threshold)."""
        return self.best is not None and self.support >= self.threshold


class EvidenceStep:
    """Scores sentences with `scorer`; without one (while training it) every probability is 0."""

    def __init__(self, scorer: SentenceScorer | None, multilingual: Embedder, threshold: float | None = None) -> None:
        self.scorer = scorer
        self._multilingual = multilingual
        self.threshold = threshold if threshold is not None else (scorer.threshold if scorer else 1.0)
        self._cache: OrderedDict[str, list[tuple[int, int, np.ndarray]]] = OrderedDict()
        self._lock = threading.Lock()

    def gather(self, question: str, query: Query, passages: Sequence[Passage], lexical: LexicalIndex, sentences: SentenceSource) -> Evidence:
        spans = self._spans(passages, sentences)
        p_numeric = self.scorer.p_numeric(query.multilingual) if self.scorer else 0.5
        facts = question_facts(
            query.text, query.language, lexical.idf, lexical.knows, p_numeric, lexical.share(query.language)
        )
        rows = feature_rows(
            facts,
            query.multilingual,
            spans,
            [f"{p.chunk.title}\n{p.chunk.text}" for p in passages],
            [str(p.chunk.meta.get("language") or "") for p in passages],
            _passage_scores(passages),
            query.text,
        )
        probabilities = self.scorer.probabilities(rows) if self.scorer else np.zeros(len(spans), dtype=np.float32)
        support = self.scorer.support_probability(support_row(rows, probabilities)) if self.scorer and len(rows) else 0.0
        candidates = [
            Candidate(passages[s.passage], s.start, s.end, s.text, p, tuple(row))
            for s, p, row in zip(spans, probabilities.tolist(), rows.tolist())
        ]
        candidates.sort(key=lambda c: (-c.probability, c.passage.rank, c.start))
        unknown = facts.unknown_names if facts.says_unknown else ()
        return Evidence(question, query.text, query.language, tuple(passages), tuple(candidates), support, self.threshold, unknown)

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
