"""Fusion of the dense and BM25 candidate lists, as pure functions over (id, score) lists (best first).

`rrf` and `convex` (with "tmm" scaling) replay what `HybridRetriever._fuse` does for `fusion=rrf` and
`fusion=convex` (tests check they agree), over ranked lists, for the offline tuning in bench/tune_fusion.py;
the other scalings are the alternatives that tuning compared. `convex` is a weighted sum of normalised scores (Bruch et al., "An Analysis of
Fusion Functions for Hybrid Retrieval", 2023). It uses the scores themselves rather than only the ranks, so
a BM25 hit far ahead of the rest counts for more than one that barely leads.

Normalisations (per query, over each list):
- "minmax": (s - min) / (max - min) over the list's candidates;
- "tmm" (theoretical min-max): dense cosine from its theoretical minimum (-1 by default) to the list max,
  BM25 from 0 to the list max. It does not depend on how deep the lists go;
- "zscore": (s - mean) / std over the list.
A chunk missing from one list gets that list's lowest normalised value (it scored at most the last candidate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Scored = Sequence[tuple[str, float]]
Normalisation = Literal["minmax", "tmm", "zscore"]


def rrf(dense: Scored, lexical: Scored, rrf_k: float = 60.0, dense_weight: float = 1.0, lexical_weight: float = 1.0) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: sum of weight / (rrf_k + rank); ties by id, as the retriever breaks them."""
    fused: dict[str, float] = {}
    for rank, (chunk_id, _) in enumerate(dense, 1):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + dense_weight / (rrf_k + rank)
    for rank, (chunk_id, _) in enumerate(lexical, 1):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + lexical_weight / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def normalise(scores: Scored, how: Normalisation = "minmax", theoretical_min: float = 0.0) -> dict[str, float]:
    if not scores:
        return {}
    values = [s for _, s in scores]
    if how == "zscore":
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        return {i: (s - mean) / std if std > 0 else 0.0 for i, s in scores}
    low = theoretical_min if how == "tmm" else min(values)
    high = max(values)
    span = high - low
    return {i: (s - low) / span if span > 0 else 1.0 for i, s in scores}


def convex(
    dense: Scored,
    lexical: Scored,
    dense_weight: float = 0.5,
    lexical_weight: float = 0.5,
    how: Normalisation = "tmm",
    dense_min: float = -1.0,
) -> list[tuple[str, float]]:
    """dense_weight * norm(dense) + lexical_weight * norm(bm25), best first (ties by id)."""
    d = normalise(dense, how, dense_min)
    lex = normalise(lexical, how, 0.0)
    # A chunk missing from a list scored at most that list's last candidate: it gets the list's lowest value.
    d_floor = min(d.values()) if d else 0.0
    l_floor = min(lex.values()) if lex else 0.0
    fused = {i: dense_weight * d.get(i, d_floor) + lexical_weight * lex.get(i, l_floor) for i in set(d) | set(lex)}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def fuse(
    dense: Scored,
    lexical: Scored,
    method: str = "rrf",
    *,
    rrf_k: float = 60.0,
    dense_weight: float = 1.0,
    lexical_weight: float = 1.0,
    how: Normalisation = "tmm",
    dense_min: float = -1.0,
) -> list[tuple[str, float]]:
    if method == "rrf":
        return rrf(dense, lexical, rrf_k, dense_weight, lexical_weight)
    if method == "convex":
        return convex(dense, lexical, dense_weight, lexical_weight, how, dense_min)
    raise ValueError(f"unknown fusion {method!r}: use rrf or convex")


FUSIONS = ("rrf", "convex")
