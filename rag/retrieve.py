"""Hybrid retrieval: dense (Chroma) and BM25 candidates fused by weighted reciprocal rank."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from .embedder import Embedder
from .errors import InvalidQuestion
from .lexical import LexicalIndex, cache_key
from .settings import Settings
from .store import VectorStore
from .types import Chunk, Passage

log = logging.getLogger(__name__)

FILTER_KEYS = ("source", "language")
_REFRESH_SECONDS = 1.0


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate user filters ({"language": "de"}, {"source": ["a.md", "b.md"]})."""
    clean: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_KEYS:
            raise InvalidQuestion(f"unknown filter {key!r}: filters can be {', '.join(FILTER_KEYS)}")
        if isinstance(value, (list, tuple, set)):
            if not value or not all(isinstance(v, str) for v in value):
                raise InvalidQuestion(f"filter {key!r} needs a string or a non-empty list of strings")
            clean[key] = list(value)
        elif isinstance(value, str):
            clean[key] = value
        else:
            raise InvalidQuestion(f"filter {key!r} needs a string or a list of strings, not {type(value).__name__}")
    return clean


def chroma_where(filters: Mapping[str, Any]) -> dict[str, Any] | None:
    clauses = [{k: {"$in": v} if isinstance(v, list) else v} for k, v in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def rrf_fusion(dense: list[str], lexical: list[str], rrf_k: float, dense_weight: float, lexical_weight: float) -> dict[str, float]:
    """Weighted reciprocal rank fusion of two ranked id lists."""
    fused: dict[str, float] = {}
    for rank, chunk_id in enumerate(dense, 1):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + dense_weight / (rrf_k + rank)
    for rank, chunk_id in enumerate(lexical, 1):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + lexical_weight / (rrf_k + rank)
    return fused


def convex_fusion(
    dense: Mapping[str, float], lexical: Mapping[str, float], dense_weight: float, lexical_weight: float
) -> dict[str, float]:
    """Weighted sum of scores scaled per query to [0, 1]: cosine from its floor (-1) to the best, BM25 from 0.

    A chunk missing from one list gets that list's lowest scaled value: it scored at most the last candidate.
    Scores rather than ranks count, so a hit far ahead of the rest weighs more than one that barely leads.
    """

    def scale(scores: Mapping[str, float], floor: float) -> dict[str, float]:
        if not scores:
            return {}
        span = max(scores.values()) - floor
        return {i: (v - floor) / span if span > 0 else 1.0 for i, v in scores.items()}

    d, lex = scale(dense, -1.0), scale(lexical, 0.0)
    d_low, l_low = min(d.values(), default=0.0), min(lex.values(), default=0.0)
    return {i: dense_weight * d.get(i, d_low) + lexical_weight * lex.get(i, l_low) for i in d.keys() | lex.keys()}


class HybridRetriever:
    """Dense + BM25 retrieval over one store; the BM25 side follows the store's generation marker."""

    def __init__(self, settings: Settings, embedder: Embedder, store: VectorStore) -> None:
        self._settings = settings
        self._embedder = embedder
        self._store = store
        self._lexical: LexicalIndex | None = None
        self._generation = ""
        self._checked_at = 0.0
        self._lock = threading.Lock()

    # --- the lexical side ------------------------------------------------------------------------------------
    def lexical(self) -> LexicalIndex:
        now = time.monotonic()
        if self._lexical is not None and now - self._checked_at < _REFRESH_SECONDS:
            return self._lexical
        with self._lock:
            generation = self._store.generation()
            self._checked_at = time.monotonic()
            if self._lexical is None or generation != self._generation:
                if self._lexical is not None:  # another process changed the index: reload its vectors too
                    self._store.refresh()
                self._lexical = self._load_lexical(generation)
                self._generation = generation
            return self._lexical

    def _load_lexical(self, generation: str) -> LexicalIndex:
        key = cache_key(self._store.location, self._settings.collection, generation)
        folder = self._settings.index_dir / "lexical" / self._settings.collection
        cached = LexicalIndex.load(folder, key)
        if cached is not None and len(cached) == self._store.count():
            return cached
        started = time.perf_counter()
        index = LexicalIndex.build(self._store.iter_records())
        log.info("built BM25 over %d chunks in %.2fs", len(index), time.perf_counter() - started)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            index.save(folder, key)
        except OSError as exc:  # a read-only index folder still serves queries
            log.warning("could not cache the BM25 index in %s: %s", folder, exc)
        return index

    # --- retrieval -------------------------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Mapping[str, Any] | None = None,
        query_embedding: np.ndarray | None = None,
    ) -> list[Passage]:
        k = k or self._settings.top_k
        clean = check_filters(filters)
        n = max(self._settings.candidates, k)
        if query_embedding is None:
            query_embedding = self._embedder.embed_query(query)
        dense = self._store.query(query_embedding, n, chroma_where(clean)) if self._settings.dense_weight > 0 else []
        lexical = self.lexical().search(query, n, clean) if self._settings.lexical_weight > 0 else []
        return self._fuse(dense, lexical, k)

    def _fuse(self, dense: list[tuple[Chunk, float]], lexical: list[tuple[str, float]], k: int) -> list[Passage]:
        s = self._settings
        chunks = {chunk.id: chunk for chunk, _ in dense}
        dense_scores = {chunk.id: similarity for chunk, similarity in dense}
        lexical_scores = dict(lexical)
        if s.fusion == "convex":
            fused = convex_fusion(dense_scores, lexical_scores, s.dense_weight, s.lexical_weight)
        else:
            fused = rrf_fusion([c.id for c, _ in dense], [i for i, _ in lexical], s.rrf_k, s.dense_weight, s.lexical_weight)
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        missing = [i for i in best if i not in chunks]
        chunks.update(self._store.get(missing))
        passages = []
        for chunk_id in best:
            if chunk_id not in chunks:  # deleted by a concurrent ingest between the two lookups
                continue
            passages.append(
                Passage(
                    chunk=chunks[chunk_id],
                    score=fused[chunk_id],
                    rank=len(passages) + 1,
                    dense_score=dense_scores.get(chunk_id),
                    lexical_score=lexical_scores.get(chunk_id),
                )
            )
        return passages
