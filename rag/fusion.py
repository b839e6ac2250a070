"""Fusion of ranked candidate lists (dense, multilingual, sentence, BM25) into one ranking.

- `convex`: a weighted sum of each list's scores scaled per query (Bruch et al., "An Analysis of Fusion
  Functions for Hybrid Retrieval", 2023). The default scaling ("tmm", theoretical min-max) runs from the
  score's theoretical floor (cosine -1, BM25 0) to the list's best, so it does not depend on how deep the
  lists go; "minmax" and "zscore" are the alternatives tuning compared. An id missing from a list gets that
  list's lowest scaled value: it scored at most the last candidate. Scores rather than ranks count, so a hit
  far ahead of the rest weighs more than one that barely leads.
  Passages in another language than the question can take other weights: the English model and BM25 match
  words of one language, so across languages the multilingual lists carry the ranking.
- `rrf`: weighted reciprocal rank fusion, sum of weight / (k + rank).

Both return {id: fused score}; `ranked` sorts best first with ties broken by id.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Literal

Scaling = Literal["tmm", "minmax", "zscore"]
# Theoretical floors of each list's scores (for "tmm"): cosine similarities and BM25.
FLOORS = {"dense": -1.0, "multilingual": -1.0, "sentences": -1.0, "lexical": 0.0}


def scale(scores: Mapping[str, float], how: Scaling = "tmm", floor: float = 0.0) -> dict[str, float]:
    if not scores:
        return {}
    values = list(scores.values())
    if how == "zscore":
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        return {i: (s - mean) / std if std > 0 else 0.0 for i, s in scores.items()}
    low = floor if how == "tmm" else min(values)
    span = max(values) - low
    return {i: (s - low) / span if span > 0 else 1.0 for i, s in scores.items()}


def convex(
    lists: Mapping[str, Mapping[str, float]],
    weights: Mapping[str, float],
    how: Scaling = "tmm",
    floors: Mapping[str, float] = FLOORS,
    cross_weights: Mapping[str, float] | None = None,
    cross: Collection[str] = (),
) -> dict[str, float]:
    """sum over lists of weight * scaled score; an id a list lacks takes that list's lowest scaled value.

    Ids in `cross` (passages in another language than the question) are weighed with `cross_weights`."""
    cross_weights = cross_weights if cross_weights is not None else weights
    used = [name for name in lists if weights.get(name, 0) or (cross and cross_weights.get(name, 0))]
    scaled = {name: scale(lists[name], how, floors.get(name, 0.0)) for name in used}
    lows = {name: min(values.values(), default=0.0) for name, values in scaled.items()}
    ids = set().union(*(values.keys() for values in scaled.values())) if scaled else set()
    fused = dict.fromkeys(ids, 0.0)
    cross = set(cross)
    crossing = [i in cross for i in fused]
    for name, values in scaled.items():  # list by list, as a sum over lists adds them (same floats, same order)
        low, same, other = lows[name], weights.get(name, 0.0), cross_weights.get(name, 0.0)
        for i, across in zip(fused, crossing):
            fused[i] += (other if across else same) * values.get(i, low)
    return fused


def rrf(lists: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: float = 60.0) -> dict[str, float]:
    """sum over lists of weight / (k + rank); each list is ids best first, as its retriever returned them."""
    fused: dict[str, float] = {}
    for name, ids in lists.items():
        weight = weights.get(name, 0)
        if not weight:
            continue
        for rank, chunk_id in enumerate(ids, 1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank)
    return fused


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Ids best first; equal scores by id, so a ranking never depends on dict order."""
    return sorted(scores, key=lambda i: (-scores[i], i))
