"""Ranking metrics and fusion functions on tiny examples computed by hand."""

from __future__ import annotations

import math
import random

import pytest

from evaluation.fusion import convex, fuse, normalise, rrf
from evaluation.metrics import (
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    per_query,
    percentile,
    precision_at_k,
    ranked,
    recall_at_k,
)

LOG3 = math.log2(3)

# Ranking d1 d2 d3 d4; relevant: d2, d4 and d9 (never retrieved).
RUN = ["d1", "d2", "d3", "d4"]
REL = {"d2": 1, "d4": 1, "d9": 1, "d3": 0}


def test_ndcg_binary_by_hand() -> None:
    dcg = 1 / LOG3 + 1 / math.log2(5)  # d2 at rank 2, d4 at rank 4
    idcg = 1 + 1 / LOG3 + 1 / 2  # three relevant documents at ranks 1-3
    assert ndcg_at_k(RUN, REL, 10) == pytest.approx(dcg / idcg) == pytest.approx(0.498189, abs=1e-6)
    assert ndcg_at_k(RUN, REL, 2) == pytest.approx((1 / LOG3) / (1 + 1 / LOG3))
    assert ndcg_at_k(RUN, REL, 1) == 0.0


def test_ndcg_graded_uses_linear_gain_and_ideal_over_all_judged() -> None:
    # a (1), b (2), c (0); d (3) is judged but not retrieved, so the ideal order is d, b, a.
    got = ndcg_at_k(["a", "b", "c"], {"a": 1, "b": 2, "c": 0, "d": 3}, 3)
    assert got == pytest.approx((1 + 2 / LOG3) / (3 + 2 / LOG3 + 1 / 2)) == pytest.approx(0.475, abs=1e-4)
    assert ndcg_at_k(["d", "b", "a"], {"a": 1, "b": 2, "d": 3}, 10) == pytest.approx(1.0)


def test_recall_mrr_precision_by_hand() -> None:
    assert recall_at_k(RUN, REL, 10) == pytest.approx(2 / 3)
    assert recall_at_k(RUN, REL, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RUN, REL, 1) == 0.0
    assert mrr_at_k(RUN, REL, 10) == 0.5
    assert mrr_at_k(RUN, REL, 1) == 0.0
    assert mrr_at_k(["x", "y", "d4"], REL, 10) == pytest.approx(1 / 3)
    assert precision_at_k(RUN, REL, 4) == 0.5


def test_no_relevant_documents_and_empty_runs_score_zero() -> None:
    assert ndcg_at_k(RUN, {"d1": 0}, 10) == 0.0
    assert recall_at_k(RUN, {}, 10) == 0.0
    assert ndcg_at_k([], REL, 10) == mrr_at_k([], REL, 10) == recall_at_k([], REL, 100) == 0.0


def test_scores_rank_descending_with_ties_by_id_descending_and_duplicates_count_once() -> None:
    assert ranked({"a": 1.0, "b": 1.0, "c": 2.0}) == ["c", "b", "a"]
    assert ranked(["x", "y", "x", "z"]) == ["x", "y", "z"]
    # A document listed twice counts once, at its best rank (as in a run of {doc: score}).
    assert recall_at_k(["d2", "d2", "d4"], REL, 2) == pytest.approx(2 / 3)


def test_evaluate_averages_over_the_qrels_queries_only() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": ["a", "x"], "q3": ["b"]}  # q2 has no results (scores 0); q3 is not judged (ignored)
    scores = evaluate(run, qrels, ("ndcg@10", "recall@100", "mrr@10"))
    assert scores == {"ndcg@10": 0.5, "recall@100": 0.5, "mrr@10": 0.5}
    assert per_query(run, qrels, ("mrr@10",)) == {"q1": {"mrr@10": 1.0}, "q2": {"mrr@10": 0.0}}
    with pytest.raises(ValueError):
        evaluate(run, qrels, ("map",))


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([7], 95) == 7
    assert percentile([], 50) == 0.0


# --- fusion -----------------------------------------------------------------------------------------------------
def test_rrf_by_hand() -> None:
    fused = dict(rrf([("a", 0.9), ("b", 0.8)], [("b", 12.0), ("c", 3.0)], rrf_k=60, dense_weight=1, lexical_weight=2))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 2 / 61)
    assert fused["c"] == pytest.approx(2 / 62)
    assert [i for i, _ in rrf([("a", 1)], [("b", 1)])] == ["a", "b"]  # equal scores: by id


def test_rrf_matches_the_product_retriever(embedder) -> None:  # type: ignore[no-untyped-def]
    """The offline replay used for tuning orders chunks exactly as HybridRetriever._fuse does."""
    from rag.retrieve import HybridRetriever
    from rag.settings import Settings
    from rag.types import Chunk

    def chunk(i: str) -> Chunk:
        return Chunk(i, "doc", "", "text", 0, 4)

    class Store:
        def get(self, ids):  # type: ignore[no-untyped-def]
            return {i: chunk(i) for i in ids}

    rng = random.Random(7)
    ids = [f"c{i:03d}" for i in range(60)]
    for rrf_k, wl in ((60, 1.0), (5, 1.5), (1, 0.5)):
        settings = Settings(fusion="rrf", rrf_k=rrf_k, dense_weight=1.0, lexical_weight=wl)
        retriever = HybridRetriever(settings, embedder, Store())  # type: ignore[arg-type]
        dense = [(i, 1.0) for i in rng.sample(ids, 30)]
        lexical = [(i, 1.0) for i in rng.sample(ids, 30)]
        lists = {"dense": dict(dense), "lexical": dict(lexical)}
        product = [p.chunk.id for p in retriever._fuse(lists, 40)]
        assert [i for i, _ in rrf(dense, lexical, rrf_k, 1.0, wl)][:40] == product


def test_normalise() -> None:
    assert normalise([("a", 4.0), ("b", 2.0), ("c", 1.0)], "minmax") == {"a": 1.0, "b": pytest.approx(1 / 3), "c": 0.0}
    assert normalise([("a", 0.5), ("b", 0.0)], "tmm", -1.0) == {"a": 1.0, "b": pytest.approx(2 / 3)}
    z = normalise([("a", 3.0), ("b", 1.0)], "zscore")
    assert z == {"a": pytest.approx(1.0), "b": pytest.approx(-1.0)}
    assert normalise([], "minmax") == {}


def test_convex_by_hand() -> None:
    dense, lexical = [("a", 0.8), ("b", 0.6)], [("b", 10.0), ("c", 5.0)]
    # minmax: dense a=1 b=0, bm25 b=1 c=0; a missing chunk takes the list's lowest value (0).
    assert convex(dense, lexical, 0.6, 0.4, "minmax") == [("a", pytest.approx(0.6)), ("b", pytest.approx(0.4)), ("c", 0.0)]
    # tmm: dense from -1: a=1, b=1.6/1.8; bm25 from 0: b=1, c=0.5; c lacks a dense score -> b's 0.889, a lacks bm25 -> 0.5
    fused = dict(convex(dense, lexical, 0.5, 0.5, "tmm"))
    assert fused == {"a": pytest.approx(0.75), "b": pytest.approx(0.5 * 1.6 / 1.8 + 0.5), "c": pytest.approx(0.5 * 1.6 / 1.8 + 0.25)}
    assert [i for i, _ in convex(dense, lexical, 0.5, 0.5, "tmm")] == ["b", "a", "c"]


def test_convex_replay_matches_the_product_retriever(embedder) -> None:  # type: ignore[no-untyped-def]
    from rag.settings import Settings
    from rag.types import Chunk

    def chunk(i: str) -> Chunk:
        return Chunk(i, "doc", "", "text", 0, 4)

    class Store:
        def get(self, ids):  # type: ignore[no-untyped-def]
            return {i: chunk(i) for i in ids}

    rng = random.Random(11)
    dense = sorted(((f"c{i}", rng.uniform(-0.2, 0.9)) for i in range(40)), key=lambda x: -x[1])
    lexical = sorted(((f"c{i}", rng.uniform(0.5, 20)) for i in range(20, 60)), key=lambda x: -x[1])
    from rag.retrieve import HybridRetriever

    settings = Settings(fusion="convex", dense_weight=0.8, lexical_weight=0.2)
    retriever = HybridRetriever(settings, embedder, Store())  # type: ignore[arg-type]
    passages = retriever._fuse({"dense": dict(dense), "lexical": dict(lexical)}, 10)
    expected = fuse(dense, lexical, "convex", dense_weight=0.8, lexical_weight=0.2)[:10]
    assert [(p.chunk.id, p.rank) for p in passages] == [(i, n) for n, (i, _) in enumerate(expected, 1)]
    assert [p.score for p in passages] == pytest.approx([s for _, s in expected])
    by_id = dict(dense)
    assert all(p.dense_score == by_id.get(p.chunk.id) for p in passages)
    with pytest.raises(ValueError):
        Settings(fusion="max")


def test_product_convex_weighs_passages_in_another_language_with_the_cross_weights() -> None:
    from rag import fusion

    lists = {"dense": {"a": 0.8, "b": 0.6}, "lexical": {"b": 10.0, "c": 5.0}}
    same, across = {"dense": 0.5, "lexical": 0.5}, {"dense": 0.2, "lexical": 0.0}
    plain = fusion.convex(lists, same)
    # tmm: dense a=1, b=c=1.6/1.8 (c takes the list's lowest); lexical b=1, c=0.5, a=0.5 (the lowest)
    assert plain == {"a": pytest.approx(0.75), "b": pytest.approx(0.5 * 1.6 / 1.8 + 0.5), "c": pytest.approx(0.5 * 1.6 / 1.8 + 0.25)}
    mixed = fusion.convex(lists, same, cross_weights=across, cross=["b"])
    assert mixed["a"] == plain["a"] and mixed["c"] == plain["c"]
    assert mixed["b"] == pytest.approx(0.2 * 1.6 / 1.8)
    assert fusion.ranked(mixed) == ["a", "c", "b"]
