"""Exact nearest neighbours in memory, for collections small enough that a matrix product beats a Chroma call.

A Chroma search costs ~2 ms here however small the collection (the call itself), and an ask makes three; the
shipped corpus has 114 chunks and ~1,000 sentences, which a numpy product searches in microseconds, exactly
(no HNSW approximation). Collections over `Settings.exact_search_max_vectors` (5,000) stay on Chroma: the
product grows with the collection (one core: 5,000 x 512 in 0.4 ms, 10,000 x 512 in 2.6 ms once the matrix
no longer fits the CPU cache) while a Chroma call stays ~2 ms. The retriever loads these per index
generation and searches Chroma whenever a metadata filter is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from chromadb.errors import ChromaError

log = logging.getLogger(__name__)

_BATCH = 5000


@dataclass(frozen=True, eq=False)
class ExactIndex:
    """Row i of `matrix` (unit length) is the vector of `ids[i]`."""

    ids: tuple[str, ...]
    matrix: np.ndarray

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The `n` nearest (id, cosine), best first: what Chroma's cosine space returns, without approximation."""
        if n <= 0 or not self.ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        scores = self.matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        k = min(n, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top]


def load_exact(collection, limit: int) -> ExactIndex | None:  # type: ignore[no-untyped-def]
    """Every vector of a Chroma collection, or None when it holds more than `limit` (or `limit` is 0), or when it
    cannot be read whole: an embedded store that another process is writing may fail to find vectors its records
    name. The retriever then searches Chroma until the index generation changes again."""
    if limit <= 0 or int(collection.count()) > limit:
        return None
    ids: list[str] = []
    rows: list[np.ndarray] = []
    offset = 0
    try:
        while True:
            batch = collection.get(include=["embeddings"], limit=_BATCH, offset=offset)
            if not batch["ids"]:
                break
            ids.extend(batch["ids"])
            rows.append(np.asarray(batch["embeddings"], dtype=np.float32))
            offset += len(batch["ids"])
    except ChromaError as exc:
        log.info("searching Chroma until the index changes again: its vectors could not be read whole (%s)", exc)
        return None
    if len(ids) > limit:  # grew while we read
        return None
    matrix = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    if len(matrix):
        matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return ExactIndex(tuple(ids), matrix)
