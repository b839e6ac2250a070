"""Ranking metrics as BEIR reports them (trec_eval definitions), in plain Python.

A run maps a query id to its ranked document ids (best first), or to {doc id: score}; qrels map a query id to
{doc id: relevance}. Only queries present in the qrels are scored; a query with no results scores 0.

- nDCG@k: linear gain (the relevance grade) and log2 discount, as trec_eval's ndcg_cut (and so BEIR).
  The ideal ranking orders every judged document by grade, cut at k.
- recall@k: relevant documents in the top k / all relevant documents of the query.
- MRR@k: 1 / rank of the first relevant document in the top k, 0 when there is none.

Documents with relevance <= 0 are not relevant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

Ranking = Sequence[str] | Mapping[str, float]
Qrels = Mapping[str, Mapping[str, int]]

DEFAULT_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def ranked(ranking: Ranking) -> list[str]:
    """Document ids best first. Scores sort descending, ties by doc id descending (as trec_eval does)."""
    if isinstance(ranking, Mapping):
        return [d for d, _ in sorted(ranking.items(), key=lambda item: (item[1], item[0]), reverse=True)]
    seen: set[str] = set()
    out = []
    for doc in ranking:  # a document listed twice counts once, at its best rank
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def dcg(gains: Iterable[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranking: Ranking, relevance: Mapping[str, int], k: int = 10) -> float:
    ideal = dcg(sorted((r for r in relevance.values() if r > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg(max(relevance.get(d, 0), 0) for d in ranked(ranking)[:k]) / ideal


def recall_at_k(ranking: Ranking, relevance: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, r in relevance.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked(ranking)[:k])) / len(relevant)


def mrr_at_k(ranking: Ranking, relevance: Mapping[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranked(ranking)[:k], 1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


def precision_at_k(ranking: Ranking, relevance: Mapping[str, int], k: int = 10) -> float:
    return sum(relevance.get(d, 0) > 0 for d in ranked(ranking)[:k]) / k


_FUNCTIONS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k, "precision": precision_at_k}


def parse_metric(name: str) -> tuple[str, int]:
    """"ndcg@10" -> ("ndcg", 10)."""
    base, _, cut = name.lower().partition("@")
    if base not in _FUNCTIONS or not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"unknown metric {name!r}: use one of {', '.join(_FUNCTIONS)} with @k, e.g. ndcg@10")
    return base, int(cut)


def per_query(run: Mapping[str, Ranking], qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, dict[str, float]]:
    """{query id: {metric: value}} for every query in the qrels."""
    parsed = [(m, *parse_metric(m)) for m in metrics]
    return {
        qid: {name: _FUNCTIONS[base](run.get(qid, ()), relevance, cut) for name, base, cut in parsed}
        for qid, relevance in qrels.items()
    }


def evaluate(run: Mapping[str, Ranking], qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each metric over the queries in the qrels."""
    scores = per_query(run, qrels, metrics)
    if not scores:
        return {m: 0.0 for m in metrics}
    return {m: sum(s[m] for s in scores.values()) / len(scores) for m in metrics}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation (numpy's default); 0 for no values."""
    data = sorted(values)
    if not data:
        return 0.0
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)
