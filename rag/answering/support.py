"""Whether the passages answer the question at all: features of the question and its best candidates.

The sentence scorer ranks sentences within a question; deciding *whether* to answer needs signals across
them: how probable the best sentence is and how far it stands out, how close the retrieved passages are in
absolute terms (a question about something the index lacks still gets a best passage, just a poor one, and
one barely better than the rest), how much of the question the passages cover, and what the corpus lacks.
A second logistic regression turns one row of `SUPPORT_FEATURES` into P(answerable).
"""

from __future__ import annotations

import numpy as np

from .answer_types import KINDS
from .features import FEATURES

SUPPORT_FEATURES = (
    "best",
    "second",
    "best_sim",
    "top_sim",
    "sim_over_median",
    "sim_over_second",
    "top_coverage",
    "top_coverage_passage",
    "top_grams",
    "top_anchors",
    "top_anchors_passage",
    "top_dense",
    "dense_over_mean",
    "top_multilingual",
    "multilingual_over_mean",
    "top_lexical_raw",
    "unknown",
    "unknown_anchor",
    "cross",
    "cross_best",
    "cross_top_sim",
    "cross_sim_over_median",
    "best_kind_match",
    "best_kind_miss",
    "top3_kind_miss",
    *(f"best_{k}_miss" for k in KINDS),
)
# As for sentences: signals of one language count only when the best sentence is in the question's language.
_SAME = ("top_dense", "dense_over_mean", "top_coverage", "top_coverage_passage", "top_lexical_raw", "unknown", "unknown_anchor", "top_grams", "top_anchors_passage")
_ACROSS = ("top_dense", "top_grams", "top_anchors_passage", "top_multilingual")
SUPPORT_FEATURES = (*SUPPORT_FEATURES, *(f"same_{n}" for n in _SAME), *(f"across_{n}" for n in _ACROSS))
_F = {name: i for i, name in enumerate(FEATURES)}
# As for sentences (features.SIGNS): the direction each question-level signal can only push P(answerable).
SUPPORT_SIGNS = {
    **dict.fromkeys(("best", "best_sim", "top_sim", "sim_over_median", "sim_over_second", "best_kind_match"), 1),
    **dict.fromkeys(("top_coverage", "top_coverage_passage", "top_grams", "top_anchors", "top_anchors_passage"), 1),
    **dict.fromkeys(("top_dense", "dense_over_mean", "top_multilingual", "multilingual_over_mean", "top_lexical_raw"), 1),
    **dict.fromkeys(("unknown", "unknown_anchor", "best_kind_miss", "top3_kind_miss", *(f"best_{k}_miss" for k in KINDS)), -1),
}


def support_row(rows: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """One row of `SUPPORT_FEATURES` for a question's candidates (`rows`: FEATURES, one per sentence)."""
    if len(rows) == 0:
        return np.zeros(len(SUPPORT_FEATURES), dtype=np.float32)
    order = np.argsort(-probabilities, kind="stable")
    b = order[0]
    best = float(probabilities[b])
    second = float(probabilities[order[1]]) if len(order) > 1 else 0.0
    sims = np.sort(rows[:, _F["sim"]])[::-1]
    top_sim = float(sims[0])
    over_median = top_sim - float(np.median(sims))
    over_second = top_sim - float(sims[1]) if len(sims) > 1 else 0.0
    dense, multilingual = rows[:, _F["dense"]], rows[:, _F["multilingual"]]
    cross = float(rows[b, _F["cross"]])
    values = [
        best,
        second,
        float(rows[b, _F["sim"]]),
        top_sim,
        over_median,
        over_second,
        float(rows[:, _F["coverage"]].max()),
        float(rows[:, _F["coverage_passage"]].max()),
        float(rows[:, _F["grams"]].max()),
        float(rows[:, _F["anchors"]].max()),
        float(rows[:, _F["anchors_passage"]].max()),
        float(dense.max()),
        float(dense.max() - dense.mean()),
        float(multilingual.max()),
        float(multilingual.max() - multilingual.mean()),
        float(rows[:, _F["lexical_raw"]].max()),
        float(rows[0, _F["unknown"]]),
        float(rows[0, _F["unknown_anchor"]]),
        cross,
        cross * best,
        cross * top_sim,
        cross * over_median,
        float(rows[b, _F["kind_match"]]),
        float(rows[b, _F["kind_miss"]]),
        float(rows[order[:3], _F["kind_miss"]].min()),
        *(float(rows[b, _F[f"{k}_miss"]]) for k in KINDS),
    ]
    named = dict(zip(SUPPORT_FEATURES, values))
    values += [named[n] * (1 - cross) for n in _SAME] + [named[n] * cross for n in _ACROSS]
    return np.asarray(values, dtype=np.float32)
