"""What the features read from a question and from a text: terms with their IDF weights, names, numbers,
character 4-grams, and what the corpus lacks. Computed once per question, and once per text (cached).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

from ..text import NAME, NUMBER, STOPWORDS, digits, lexical_tokens

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
    kinds: Mapping[str, float]  # P(the answer is of each kind), answer_types.KINDS
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
    text: str, language: str, weigh: Weigh, knows: Known, kinds: Mapping[str, float], in_language: float = 1.0
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
    return QuestionFacts(language, terms, numbers, names, dict(kinds), unknown, tuple(unknown_names), in_language)


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
