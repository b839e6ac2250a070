"""Fusion replayed offline over ranked (id, score) lists, for the tuning in bench/tune_fusion.py.

The arithmetic is the product's own (`rag.fusion`): these wrappers only take lists best first, as the tuning
script stores them, and expose the alternative scalings ("minmax", "zscore") that tuning compared with the
product's "tmm" (theoretical min-max: cosine from -1, BM25 from 0, to each list's best).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag import fusion as product
from rag.fusion import Scaling as Normalisation

Scored = Sequence[tuple[str, float]]
FUSIONS = ("rrf", "convex")


def _best_first(fused: Mapping[str, float]) -> list[tuple[str, float]]:
    return [(i, fused[i]) for i in product.ranked(fused)]


def rrf(dense: Scored, lexical: Scored, rrf_k: float = 60.0, dense_weight: float = 1.0, lexical_weight: float = 1.0) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion of two lists (in their given order); ties by id."""
    lists = {"dense": [i for i, _ in dense], "lexical": [i for i, _ in lexical]}
    return _best_first(product.rrf(lists, {"dense": dense_weight, "lexical": lexical_weight}, rrf_k))


def normalise(scores: Scored, how: Normalisation = "minmax", theoretical_min: float = 0.0) -> dict[str, float]:
    return product.scale(dict(scores), how, theoretical_min)


def convex(
    dense: Scored,
    lexical: Scored,
    dense_weight: float = 0.5,
    lexical_weight: float = 0.5,
    how: Normalisation = "tmm",
    dense_min: float = -1.0,
) -> list[tuple[str, float]]:
    """dense_weight * norm(dense) + lexical_weight * norm(bm25), best first (ties by id)."""
    lists = {"dense": dict(dense), "lexical": dict(lexical)}
    weights = {"dense": dense_weight, "lexical": lexical_weight}
    return _best_first(product.convex(lists, weights, how, {"dense": dense_min, "lexical": 0.0}))


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
