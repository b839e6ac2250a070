"""Hybrid retrieval: dense (Chroma) and BM25 candidates fused by weighted reciprocal rank."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

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
        fused: dict[str, float] = {}
        dense_scores: dict[str, float] = {}
        lexical_scores: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        for rank, (chunk, similarity) in enumerate(dense, 1):
            fused[chunk.id] = fused.get(chunk.id, 0.0) + s.dense_weight / (s.rrf_k + rank)
            dense_scores[chunk.id] = similarity
            chunks[chunk.id] = chunk
        for rank, (chunk_id, score) in enumerate(lexical, 1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + s.lexical_weight / (s.rrf_k + rank)
            lexical_scores[chunk_id] = score
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
