"""What the sentence scorer sees: features of (question, sentence, its passage), none of them tied to a language.

Each candidate sentence of the retrieved passages becomes one row of `FEATURES`:

- meaning: the multilingual cosine of question and sentence, its gap to the best candidate and its rank;
- its passage: the retrievers' scores (English dense, multilingual, BM25, fused) and rank;
- words: the IDF-weighted share of the question's terms the sentence (and its passage, and the sentence with
  the one before it) contains, stemmed in each text's own language, so it counts when question and document
  share a language; and the share of the question's character 4-grams the sentence has (names and cognates
  such as "Kazakhstan" / "Kasachstan" match across languages);
- anchors: numbers and capitalised names of the question found in the sentence (these survive translation),
  and whether the sentence names something the question does not (who/which answers do);
- answer type: the learned probability that the answer is a number (from the question's multilingual
  vector), against whether the sentence holds a number the question does not;
- the question's words the whole corpus lacks ("Uzbekistan" in a Kazakhstan corpus), which rule answers out;
- whether question and passage are in different languages, alone and with the signals it changes;
- the sentence's place in its passage, its length, and how the sentence before it scores (a subject named
  there is often what "it" refers to).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..text import NAME, NUMBER, STOPWORDS, digits, lexical_tokens

FEATURES = (
    "sim",
    "sim_gap",
    "sim_rank",
    "sim_in_passage",
    "dense",
    "multilingual",
    "lexical",
    "lexical_raw",
    "fused",
    "passage_rank",
    "coverage",
    "coverage_passage",
    "coverage_with_previous",
    "grams",
    "anchors",
    "anchors_passage",
    "new_name",
    "p_numeric",
    "numeric_match",
    "numeric_miss",
    "unknown",
    "unknown_anchor",
    "cross",
    "cross_sim",
    "cross_coverage",
    "cross_unknown",
    "cross_unknown_anchor",
    "position",
    "first",
    "length",
    "previous_sim",
)
# Signals that mean something only within one language, and those that carry across, split by whether the
# passage is in the question's language: the model weighs each case on its own.
SAME_LANGUAGE_ONLY = ("dense", "lexical", "lexical_raw", "coverage", "coverage_passage", "coverage_with_previous", "unknown", "unknown_anchor")
ACROSS_LANGUAGES = ("dense", "grams", "anchors", "multilingual")
FEATURES = (
    *FEATURES,
    *(f"same_{name}" for name in SAME_LANGUAGE_ONLY),
    *(f"across_{name}" for name in ACROSS_LANGUAGES),
)

# Capitalised words (any script) and acronyms; the question's first word is capitalised anyway.
# Names are matched on their first letters, so that inflected forms count ("Kazakhstan's", "Токаева").
_NAME_PREFIX = 5
_GRAM = 4

Known = Callable[[str], bool]
Weigh = Callable[[str], float]


def numbers_in(text: str) -> set[str]:
    return {digits(m.group(0)) for m in NUMBER.finditer(text)}


def names_in(text: str) -> list[str]:
    """Capitalised words after the first word that are not stop words, as written."""
    first = re.match(r"\W*\w+", text)
    skip = first.end() if first else 0
    found = []
    for m in NAME.finditer(text):
        word = re.sub(r"[’']s?$", "", m.group(1))
        if m.start() >= skip and word.lower() not in STOPWORDS and len(word) >= 2:
            found.append(word)
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class QuestionFacts:
    """What is computed once per question."""

    language: str
    terms: dict[str, float]  # stemmed content term -> IDF weight
    numbers: frozenset[str]
    names: tuple[str, ...]
    p_numeric: float
    unknown: float  # share of the question's IDF weight the corpus never contains, times `in_language`
    unknown_names: tuple[str, ...]  # names and numbers of the question that occur nowhere in the corpus
    in_language: float = 1.0  # share of the corpus written in the question's language

    @property
    def unknown_anchor(self) -> float:
        return float(bool(self.unknown_names)) * self.in_language

    @property
    def says_unknown(self) -> bool:
        """Whether "the documents do not mention X" is fair to say: most of the corpus is in the question's language."""
        return bool(self.unknown_names) and self.in_language > 0.5

    @property
    def anchors(self) -> tuple[str, ...]:
        return tuple(sorted(self.numbers)) + tuple(n.lower()[:_NAME_PREFIX] for n in self.names)


def question_facts(
    text: str, language: str, weigh: Weigh, knows: Known, p_numeric: float, in_language: float = 1.0
) -> QuestionFacts:
    """What the features need of a question. Words the corpus never contains are evidence that it lacks the answer
    only as far as the corpus is written in the question's language (`in_language`, the share of its chunks): a
    German word is missing from an English corpus whether or not the corpus answers the question."""
    terms = {t: weigh(t) for t in dict.fromkeys(lexical_tokens(text, language))}
    total = sum(terms.values())
    unknown = in_language * sum(w for t, w in terms.items() if not knows(t)) / total if total else 0.0
    numbers = frozenset(n for n in numbers_in(text) if n)
    names = tuple(names_in(text))
    unknown_names = [a for a in names if any(not knows(t) for t in lexical_tokens(a, language))]
    unknown_names += [n for n in sorted(numbers) if not knows(n)]
    return QuestionFacts(language, terms, numbers, names, p_numeric, unknown, tuple(unknown_names), in_language)


def grams(text: str) -> set[str]:
    """Character 4-grams of the content words (4+ letters) of a text, lower-cased."""
    out: set[str] = set()
    for word in re.findall(r"\w+", text.lower()):
        if len(word) >= _GRAM and word not in STOPWORDS:
            out.update(word[i : i + _GRAM] for i in range(len(word) - _GRAM + 1))
    return out


@dataclass(frozen=True)
class TextProfile:
    """What the features read from a sentence or passage, computed once per text (they recur across questions)."""

    lower: str
    terms: frozenset[str]
    grams: frozenset[str]
    names: tuple[str, ...]
    numbers: frozenset[str]


@lru_cache(maxsize=50_000)
def profile(text: str, language: str) -> TextProfile:
    return TextProfile(
        text.lower(), frozenset(lexical_tokens(text, language)), frozenset(grams(text)), tuple(names_in(text)), frozenset(numbers_in(text))
    )


def names_new_to(sentence: TextProfile, question: str) -> bool:
    """Whether the sentence names something (a capitalised word after its first) the question does not."""
    lower = question.lower()
    return any(name.lower()[:_NAME_PREFIX] not in lower for name in sentence.names)


def coverage(question: QuestionFacts, terms: AbstractSet[str]) -> float:
    total = sum(question.terms.values())
    return sum(w for t, w in question.terms.items() if t in terms) / total if total else 0.0


def anchor_share(question: QuestionFacts, text: TextProfile) -> float:
    anchors = question.anchors
    if not anchors:
        return 0.0
    return sum((a in text.numbers) if a.isdigit() else (a in text.lower) for a in anchors) / len(anchors)


@dataclass(frozen=True)
class Span:
    """A candidate sentence: its passage (index into the passage list), offsets, text and multilingual vector."""

    passage: int
    start: int
    end: int
    text: str
    position: float  # 0 for the passage's first sentence, 1 for its last
    vector: np.ndarray


def feature_rows(
    question: QuestionFacts,
    query_vector: np.ndarray,
    spans: Sequence[Span],
    passage_texts: Sequence[str],
    passage_languages: Sequence[str],
    passage_scores: Sequence[dict[str, float]],
    question_text: str = "",
) -> np.ndarray:
    """One row of `FEATURES` per span (float32); spans come passage by passage, each in text order."""
    if not spans:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    sims = np.stack([s.vector for s in spans]) @ np.asarray(query_vector, dtype=np.float32)
    order = np.argsort(-sims, kind="stable")
    rank = np.empty(len(spans), dtype=np.float32)
    rank[order] = np.arange(1, len(spans) + 1)
    best_in_passage: dict[int, float] = {}
    for span, sim in zip(spans, sims):
        best_in_passage[span.passage] = max(best_in_passage.get(span.passage, -1.0), float(sim))
    passage_profiles = [profile(t, lang) for t, lang in zip(passage_texts, passage_languages)]
    passage_cover = [coverage(question, p.terms) for p in passage_profiles]
    passage_anchors = [anchor_share(question, p) for p in passage_profiles]
    rows = []
    top = float(sims.max())
    question_grams = grams(question_text)
    previous: tuple[int, float, frozenset[str]] | None = None  # (passage, sim, terms) of the span before
    for span, sim, r in zip(spans, sims, rank):
        p = span.passage
        scores = passage_scores[p]
        lang = passage_languages[p]
        cross = float(bool(question.language and lang and question.language != lang))
        text = profile(span.text, lang)
        terms = text.terms
        cover = coverage(question, terms)
        before = previous if previous is not None and previous[0] == p else None
        previous = (p, float(sim), terms)
        shared = len(question_grams & text.grams) / len(question_grams) if question_grams else 0.0
        new_numbers = text.numbers - question.numbers
        has_number = float(bool(new_numbers))
        words = len(span.text.split())
        rows.append(
            [
                sim,
                sim - top,
                1.0 / r,
                sim - best_in_passage[p],
                scores["dense"],
                scores["multilingual"],
                scores["lexical"],
                scores["lexical_raw"],
                scores["fused"],
                scores["rank"],
                cover,
                passage_cover[p],
                coverage(question, terms | before[2]) if before else cover,
                shared,
                anchor_share(question, text),
                passage_anchors[p],
                float(names_new_to(text, question_text)),
                question.p_numeric,
                question.p_numeric * has_number,
                question.p_numeric * (1.0 - has_number),
                question.unknown,
                question.unknown_anchor,
                cross,
                cross * sim,
                cross * cover,
                cross * question.unknown,
                cross * question.unknown_anchor,
                span.position,
                float(span.position == 0.0),
                math.log1p(words),
                before[1] if before else -1.0,
            ]
        )
    table = np.asarray(rows, dtype=np.float32)
    return with_language_split(table)


def with_language_split(table: np.ndarray) -> np.ndarray:
    """`table` (the base features) with the same-language and across-language copies appended."""
    index = {name: i for i, name in enumerate(FEATURES)}
    cross = table[:, index["cross"]]
    same = [table[:, index[n]] * (1 - cross) for n in SAME_LANGUAGE_ONLY]
    across = [table[:, index[n]] * cross for n in ACROSS_LANGUAGES]
    return np.hstack([table, np.stack(same + across, axis=1)]).astype(np.float32)
