"""Whether an answer needs the sentence beside its best one: a topic sentence and the sentence that carries the fact.

The best sentence of an answer often only restates the question ("By 13 March 2026, Tokayev stated that both
the AI law and the Digital Code were in force.") while the sentence after it holds the fact ("This matches the
effective date of 18 January 2026 ..."). A small logistic regression (in the scorer file, trained by
bench/train_scorer.py on out-of-fold probabilities) gives P(the neighbour holds the answer and the best sentence
does not) from both sentences' features and probabilities; the extractive answer adds the neighbour when that
reaches the scorer file's `extension_threshold`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .features import FEATURES

_NEIGHBOUR = ("sim", "sim_gap", "sim_in_passage", "echo", "echo_grams", "coverage", "grams", "new_name", "kind_match", "kind_miss", "length", "anchors", "cross")
_BEST = ("sim", "echo", "echo_grams", "coverage", "grams", "new_name", "kind_match", "kind_miss", "length", "anchors")
EXTENSION_FEATURES = (
    "p_best",
    "p_neighbour",
    "p_ratio",
    "after",
    *(f"neighbour_{n}" for n in _NEIGHBOUR),
    *(f"best_{n}" for n in _BEST),
)
_F = {name: i for i, name in enumerate(FEATURES)}


def extension_row(best: Sequence[float], neighbour: Sequence[float], p_best: float, p_neighbour: float, after: bool) -> np.ndarray:
    """One row of `EXTENSION_FEATURES` (`best`, `neighbour`: rows of FEATURES of two adjacent sentences)."""
    values = [p_best, p_neighbour, p_neighbour / max(p_best, 1e-6), float(after)]
    values += [neighbour[_F[n]] for n in _NEIGHBOUR] + [best[_F[n]] for n in _BEST]
    return np.asarray(values, dtype=np.float32)


def neighbours(spans: Sequence[tuple[int, int]], best: int) -> list[tuple[int, bool]]:
    """Indices of the sentences just before and after `best` in its passage, with whether each comes after it;
    `spans` are (passage, start) per candidate."""
    passage, start = spans[best]
    same = sorted((s, i) for i, (p, s) in enumerate(spans) if p == passage)
    at = same.index((start, best))
    out = []
    if at > 0:
        out.append((same[at - 1][1], False))
    if at + 1 < len(same):
        out.append((same[at + 1][1], True))
    return out
