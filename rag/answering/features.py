"""What the sentence scorer sees: features of (question, sentence, its passage), none of them tied to a language.

Each candidate sentence of the retrieved passages becomes one row of `FEATURES`:

- meaning: the multilingual cosine of question and sentence, its gap to the best candidate, its rank, and its
  standing within its own passage (gap to the passage's best sentence, margin over the passage's mean);
- its passage: the retrievers' scores (English dense, multilingual, BM25, fused) and rank;
- words: the IDF-weighted share of the question's terms the sentence (and its passage, and the sentence with
  the one before it) contains, stemmed in each text's own language, so it counts when question and document
  share a language; and the share of the question's character 4-grams the sentence has (names and cognates
  such as "Kazakhstan" / "Kasachstan" match across languages);
- echo: how much of the sentence only restates the question (the share of its own terms and 4-grams the
  question has): "Reports disagree on what Tokayev said about Aitu" echoes the question, the next sentence,
  which says what he said, does not;
- anchors: numbers and capitalised names of the question found in the sentence (these survive translation),
  and whether the sentence names something the question does not (who/which answers do);
- answer kind: the learned probability that the answer is a number, a year, a day, an amount, a name (from
  the question's multilingual vector), against whether the sentence holds such an entity the question does not
  (answer_types.py), per kind and summed;
- the question's words the whole corpus lacks ("Uzbekistan" in a Kazakhstan corpus), which rule answers out;
- whether question and passage are in different languages, alone and with the signals it changes;
- its neighbours: how the sentences before and after it match the question (a topic sentence followed by the
  one that carries the fact; a subject named before "it"), its place in the passage and its length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .answer_types import KINDS, sentence_kinds
from .facts import (
    QuestionFacts,
    TextProfile,
    anchor_share,
    coverage,
    grams,
    names_in,
    names_new_to,
    numbers_in,
    profile,
    question_facts,
)

__all__ = ["FEATURES", "FeatureInputs", "Span", "feature_rows", "anchor_share", "names_in", "numbers_in", "profile", "question_facts"]

BASE_FEATURES = (
    "sim", "sim_gap", "sim_rank", "sim_in_passage", "sim_over_passage_mean",
    "dense", "multilingual", "lexical", "lexical_raw", "fused", "passage_rank",
    "coverage", "coverage_passage", "coverage_with_previous", "grams", "echo", "echo_grams",
    "anchors", "anchors_passage", "new_name",
    *(f"p_{k}" for k in KINDS), *(f"{k}_match" for k in KINDS), *(f"{k}_miss" for k in KINDS), "kind_match", "kind_miss",
    "unknown", "unknown_anchor",
    "cross", "cross_sim", "cross_coverage",
    "position", "first", "length",
    "previous_sim", "previous_coverage", "next_sim", "next_coverage",
)  # fmt: skip
# Signals that mean something only within one language, and those that carry across, split by whether the
# passage is in the question's language: the model weighs each case on its own.
SAME_LANGUAGE_ONLY = ("dense", "lexical", "lexical_raw", "coverage", "coverage_passage", "coverage_with_previous", "echo", "unknown", "unknown_anchor", "previous_coverage", "next_coverage")
ACROSS_LANGUAGES = ("dense", "grams", "echo_grams", "anchors", "multilingual")
FEATURES = (*BASE_FEATURES, *(f"same_{n}" for n in SAME_LANGUAGE_ONLY), *(f"across_{n}" for n in ACROSS_LANGUAGES))
_INDEX = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class Span:
    """A candidate sentence: its passage (index into the passage list), offsets, text and multilingual vector."""

    passage: int
    start: int
    end: int
    text: str
    position: float  # 0 for the passage's first sentence, 1 for its last
    vector: np.ndarray


@dataclass(frozen=True, eq=False)
class FeatureInputs:
    """Everything `feature_rows` reads for one question: kept whole so the training script recomputes the rows
    with this very code (bench/train_scorer.py)."""

    facts: QuestionFacts
    query_vector: np.ndarray
    spans: tuple[Span, ...]  # passage by passage, each in text order
    passage_texts: tuple[str, ...]
    passage_languages: tuple[str, ...]
    passage_scores: tuple[Mapping[str, float], ...]
    question_text: str

    def with_kinds(self, kinds: Mapping[str, float]) -> FeatureInputs:
        return replace(self, facts=replace(self.facts, kinds=dict(kinds)))


def _neighbours(spans: Sequence[Span], values: Sequence[float]) -> tuple[list[float], list[float]]:
    """For each span, `values` of the span before and after it in the same passage (-1 where there is none)."""
    before, after = [-1.0] * len(spans), [-1.0] * len(spans)
    for i in range(1, len(spans)):
        if spans[i].passage == spans[i - 1].passage:
            before[i], after[i - 1] = values[i - 1], values[i]
    return before, after


def feature_rows(inputs: FeatureInputs) -> np.ndarray:
    """One row of `FEATURES` per span (float32)."""
    spans, question = inputs.spans, inputs.facts
    if not spans:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    sims = np.stack([s.vector for s in spans]) @ np.asarray(inputs.query_vector, dtype=np.float32)
    order = np.argsort(-sims, kind="stable")
    rank = np.empty(len(spans), dtype=np.float32)
    rank[order] = np.arange(1, len(spans) + 1)
    by_passage: dict[int, list[float]] = {}
    for span, sim in zip(spans, sims.tolist()):
        by_passage.setdefault(span.passage, []).append(sim)
    passage_profiles = [profile(t, lang) for t, lang in zip(inputs.passage_texts, inputs.passage_languages)]
    passage_cover = [coverage(question, p.terms) for p in passage_profiles]
    passage_anchors = [anchor_share(question, p) for p in passage_profiles]
    texts: list[TextProfile] = [profile(s.text, inputs.passage_languages[s.passage]) for s in spans]
    covers = [coverage(question, t.terms) for t in texts]
    previous_sim, next_sim = _neighbours(spans, sims.tolist())
    previous_cover, next_cover = _neighbours(spans, covers)
    question_grams = grams(inputs.question_text)
    question_terms = frozenset(question.terms)
    top = float(sims.max())
    rows = []
    for i, (span, sim, r) in enumerate(zip(spans, sims.tolist(), rank.tolist())):
        p = span.passage
        scores = inputs.passage_scores[p]
        lang = inputs.passage_languages[p]
        cross = float(bool(question.language and lang and question.language != lang))
        text, cover = texts[i], covers[i]
        with_previous = coverage(question, text.terms | texts[i - 1].terms) if previous_sim[i] > -1 else cover
        shared = len(question_grams & text.grams) / len(question_grams) if question_grams else 0.0
        held = sentence_kinds(span.text, text, inputs.question_text, question.numbers)
        p_kind = [question.kinds.get(k, 0.0) for k in KINDS]
        match = [p * float(held[k]) for p, k in zip(p_kind, KINDS)]
        miss = [p * (1.0 - float(held[k])) for p, k in zip(p_kind, KINDS)]
        mine = by_passage[p]
        rows.append(
            [
                sim, sim - top, 1.0 / r, sim - max(mine), sim - sum(mine) / len(mine),
                scores["dense"], scores["multilingual"], scores["lexical"], scores["lexical_raw"], scores["fused"], scores["rank"],
                cover, passage_cover[p], with_previous, shared,
                len(text.terms & question_terms) / len(text.terms) if text.terms else 0.0,
                len(text.grams & question_grams) / len(text.grams) if text.grams else 0.0,
                anchor_share(question, text), passage_anchors[p], float(names_new_to(text, inputs.question_text)),
                *p_kind, *match, *miss, sum(match), sum(miss),
                question.unknown, question.unknown_anchor,
                cross, cross * sim, cross * cover,
                span.position, float(span.position == 0.0), math.log1p(len(span.text.split())),
                previous_sim[i], previous_cover[i], next_sim[i], next_cover[i],
            ]
        )  # fmt: skip
    return with_language_split(np.asarray(rows, dtype=np.float32))


def with_language_split(table: np.ndarray) -> np.ndarray:
    """`table` (the base features) with the same-language and across-language copies appended."""
    cross = table[:, _INDEX["cross"]]
    same = [table[:, _INDEX[n]] * (1 - cross) for n in SAME_LANGUAGE_ONLY]
    across = [table[:, _INDEX[n]] * cross for n in ACROSS_LANGUAGES]
    return np.hstack([table, np.stack(same + across, axis=1)]).astype(np.float32)


def column(name: str) -> int:
    return _INDEX[name]


# The direction each signal can only push P(the sentence holds the answer), from what it measures (the model is
# fit with these bounds, bench/train_scorer.py): more similarity, coverage or retrieval score never counts
# against a sentence, and question words the corpus lacks never count for it. Unlisted features are free. The
# bounds keep the model's reading of a signal the same on a corpus unlike its training data (one topic, where
# correlated signals would otherwise trade signs).
SIGNS = {
    **dict.fromkeys(("sim", "sim_gap", "sim_rank", "sim_in_passage", "sim_over_passage_mean"), 1),
    **dict.fromkeys(("dense", "multilingual", "lexical", "lexical_raw", "fused", "passage_rank"), 1),
    **dict.fromkeys(("coverage", "coverage_passage", "coverage_with_previous", "grams", "anchors", "anchors_passage"), 1),
    **dict.fromkeys((*(f"{k}_match" for k in KINDS), "kind_match"), 1),
    **dict.fromkeys((*(f"{k}_miss" for k in KINDS), "kind_miss", "unknown", "unknown_anchor"), -1),
}


def sign_of(name: str, signs: Mapping[str, int]) -> int:
    """The bound of a feature, its language-split copies (same_*, across_*) included: +1, -1 or 0 (free)."""
    for prefix in ("same_", "across_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return signs.get(name, 0)
