"""What kind of answer a question asks for, and whether a sentence holds one: a number, a year, a day, an amount
of money or a large quantity, a name.

The kind is learned from the question's multilingual vector (one logistic regression per kind in the scorer
file, trained on the kinds of the gold answers of the training questions: `kinds_of`), so "Wann", "когда" and
"when" need no word list. A sentence *holds* a kind when it has such an entity that the question does not
mention (`sentence_kinds`): "How many hospitals took part?" against "The pilot ran in hospitals of the Akmola
region" asks for a number the sentence lacks — the near-topic non-answer the refusal has to catch.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..text import AMOUNT_WORDS, MONTHS, NUMBER, digits
from .facts import TextProfile, names_new_to

KINDS = ("number", "year", "day", "amount", "name")

_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = re.compile(
    rf"(?<!\d)\d{{1,2}}(?:st|nd|rd|th)?\.?\s+(?:{_MONTH})\b|\b(?:{_MONTH})\s+\d{{1,2}}(?!\d)|(?<!\d)\d{{1,2}}\.\d{{1,2}}\.(?:19|20)\d\d",
    re.IGNORECASE,
)
_AMOUNT_WORD = re.compile("|".join(AMOUNT_WORDS), re.IGNORECASE)
_AMOUNT = re.compile(rf"(?:[$€£₸]\s?\d|\d(?:[\d.,]*\d)?\s?(?:%|{'|'.join(AMOUNT_WORDS)}))", re.IGNORECASE)


@lru_cache(maxsize=50_000)
def _days(text: str) -> frozenset[str]:
    return frozenset(re.sub(r"\W+", " ", m.group(0).lower()).strip() for m in _DAY.finditer(text))


@lru_cache(maxsize=50_000)
def _amounts(text: str) -> frozenset[str]:
    found = (NUMBER.search(m.group(0)) for m in _AMOUNT.finditer(text))
    return frozenset(digits(n.group(0)) for n in found if n)


@lru_cache(maxsize=50_000)
def _years(text: str) -> tuple[str, ...]:
    return tuple(_YEAR.findall(text))


def kinds_of(answer: str) -> dict[str, bool]:
    """The kinds a gold answer is (several may hold: "17 November 2025" is a number, a year and a day)."""
    words = [w for w in re.findall(r"\w+", answer) if w.lower() not in MONTHS and not _AMOUNT_WORD.fullmatch(w)]
    return {
        "number": bool(NUMBER.search(answer)),
        "year": bool(_YEAR.search(answer)),
        "day": bool(_DAY.search(answer)),
        "amount": bool(_AMOUNT.search(answer)),
        "name": any(w[:1].isupper() for w in words),
    }


def sentence_kinds(sentence: str, text: TextProfile, question: str, question_numbers: frozenset[str]) -> dict[str, bool]:
    """Which kinds of entity the sentence holds that the question does not mention."""
    new_numbers = text.numbers - question_numbers
    return {
        "number": bool(new_numbers),
        "year": any(y not in question_numbers for y in _years(sentence)),
        "day": bool(_days(sentence) - _days(question)),
        "amount": bool(_amounts(sentence) - question_numbers),
        "name": names_new_to(text, question),
    }
