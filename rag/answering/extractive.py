"""The extractive answerer: it quotes the retrieved sentences that answer the question, each with `[n]`.

It never writes a sentence of its own, so it cannot invent a fact. It declines (`grounded=False`) when the
evidence is weak: the best sentence is not close enough in meaning, it leaves the question's informative
terms uncovered, it lacks the kind of fact asked for (a date for "when", a quantity for "how many"), or the
question names something the corpus never mentions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .embedder import Embedder
from .text import content_terms, is_heading, sentence_spans, word_count
from .types import Answer, Citation, Passage

Weigh = Callable[[str], float]
COVERAGE_WEIGHT = 0.5
TYPE_BONUS = 0.05

_GERMAN_HINTS = frozenset(
    ["der", "die", "das", "dem", "den", "des", "ein", "eine", "einen", "einer", "und", "ist", "nicht", "wer", "wie", "was", "wann", "warum", "welche", "welcher", "welches", "welchen", "hat", "haben", "wurde", "wurden", "sind", "im", "für", "über", "mit", "laut", "auf", "sich", "viele", "viel", "wird", "werden", "soll", "sollen", "gibt", "bei", "vom", "zum", "zur"]
)
_WHEN = re.compile(
    r"^\s*(when|since when|until when|wann|seit wann|bis wann)\b|\b(what|which|on what|in what) (exact )?(year|date|month|day)\b|"
    r"\bin welchem jahr\b|\ban welchem tag\b",
    re.IGNORECASE,
)
_HOW_MUCH = re.compile(
    r"\b(how (many|much|large|big|high|accurate)|what (share|percentage|proportion|number|amount|budget|fine|price)|"
    r"wie (viele?|groß|hoch))\b",
    re.IGNORECASE,
)
_MONTH = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"januar|februar|märz|mai|juni|juli|oktober|dezember"
)
_DATE = re.compile(rf"\b(1[89]\d\d|20\d\d)\b|\b({_MONTH})\b", re.IGNORECASE)
_DATE_PARTS = re.compile(rf"\b\d{{1,2}}\.?\s+({_MONTH})\b|\b({_MONTH})\s+\d{{1,2}}\b|\b(1[89]\d\d|20\d\d)\b", re.IGNORECASE)
_QUANTITY = re.compile(r"(?<![\w.,])\d[\d,.\s]*\d?\s*(%|percent|prozent|million|billion|trillion|mio|mrd|milliarden?|billionen?)?", re.IGNORECASE)
_NUMBER_WORDS = re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|thousand|dozens?|half|zwei|drei|vier|fünf|neun|zehn)\b", re.IGNORECASE)


def looks_german(text: str) -> bool:
    words = re.findall(r"[a-zäöüß]+", text.lower())
    return sum(w in _GERMAN_HINTS for w in words) >= 2 or bool(re.search(r"[äöüß]", text.lower()))


def expected_answer_type(question: str) -> str:
    """"date" for when-questions, "quantity" for how-many/how-much questions, else ""."""
    if _WHEN.search(question):
        return "date"
    if _HOW_MUCH.search(question):
        return "quantity"
    return ""


def has_answer_type(wants: str, sentence: str) -> bool:
    if wants == "date":
        return bool(_DATE.search(sentence))
    if wants == "quantity":
        # A count or amount: a number that is not just a year or the day of a date, or a number word.
        stripped = _DATE_PARTS.sub(" ", sentence)
        return bool(_QUANTITY.search(stripped) or _NUMBER_WORDS.search(stripped))
    return True


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int  # absolute offsets into the document text
    end: int
    text: str
    semantic: float  # cosine similarity of question and sentence (with its document title)
    coverage: float  # share of the question's term weight (IDF) found in the sentence or its title
    typed: bool  # holds the kind of fact the question asks for

    @property
    def score(self) -> float:
        return self.semantic + COVERAGE_WEIGHT * self.coverage + (TYPE_BONUS if self.typed else 0.0)


@dataclass(frozen=True)
class Evidence:
    """The scored sentences, best first, and anything that rules out an answer."""

    candidates: tuple[Candidate, ...]
    unknown_terms: tuple[str, ...] = ()

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def _coverage(terms: set[str], found: set[str], weigh: Weigh | None) -> float:
    if not terms:
        return 0.0
    if weigh is None:
        return len(terms & found) / len(terms)
    total = sum(weigh(t) for t in terms)
    return sum(weigh(t) for t in terms & found) / total if total else 0.0


def candidates(
    question: str,
    passages: Sequence[Passage],
    embedder: Embedder,
    query_vector: np.ndarray,
    limit: int = 5,
    weigh: Weigh | None = None,
) -> list[Candidate]:
    """The passages' most promising sentences, scored against the question.

    Embedding sentences is the costly step of answering, so only the `limit` sentences that cover most of the
    question's terms (then: hold the asked-for kind of fact, sit in a better-ranked passage) are embedded.
    """
    spans: list[tuple[Passage, int, int, str]] = []
    seen: set[tuple[str, int]] = set()
    for passage in passages:
        chunk = passage.chunk
        for a, b in sentence_spans(chunk.text):
            text = chunk.text[a:b]
            key = (chunk.source, chunk.start + a)
            if key in seen or is_heading(text) or word_count(text) < 4:
                continue
            seen.add(key)
            spans.append((passage, chunk.start + a, chunk.start + b, text))
    if not spans:
        return []
    terms = content_terms(question)
    wants = expected_answer_type(question)
    coverage = [_coverage(terms, content_terms(f"{p.chunk.title} {text}"), weigh) for p, _, _, text in spans]
    typed = [has_answer_type(wants, s[3]) for s in spans]
    order = sorted(range(len(spans)), key=lambda i: (-(coverage[i] + 0.2 * typed[i]), spans[i][0].rank, i))[:limit]
    # The title gives a sentence its subject ("The law took effect…" is about the AI law).
    vectors = embedder.embed_documents([f"{spans[i][0].chunk.title}: {spans[i][3]}" for i in order])
    semantic = vectors @ np.asarray(query_vector, dtype=np.float32)
    return [Candidate(spans[i][0], spans[i][1], spans[i][2], spans[i][3], float(sim), coverage[i], typed[i]) for i, sim in zip(order, semantic)]


def _similar(a: Candidate, b: Candidate) -> bool:
    ta, tb = content_terms(a.text), content_terms(b.text)
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6


class ExtractiveAnswerer:
    """Selects up to `max_sentences` supporting sentences in a readable order and cites each one."""

    def __init__(
        self,
        embedder: Embedder,
        threshold: float,
        threshold_de: float | None = None,
        min_coverage: float = 0.0,
        max_sentences: int = 3,
        candidates: int = 5,
        margin: float = 0.12,
    ) -> None:
        self._embedder = embedder
        self.threshold = threshold
        self.threshold_de = threshold if threshold_de is None else threshold_de
        self.min_coverage = min_coverage
        self._max = max_sentences
        self._candidates = candidates
        self._margin = margin

    def evidence(
        self,
        question: str,
        passages: Sequence[Passage],
        query_vector: np.ndarray,
        unknown_terms: Sequence[str] = (),
        weigh: Weigh | None = None,
    ) -> Evidence:
        """Scored sentences, best first; when the question names something the corpus lacks, none are scored."""
        if unknown_terms:
            return Evidence((), tuple(unknown_terms))
        found = candidates(question, passages, self._embedder, query_vector, self._candidates, weigh)
        # Sentences without the kind of fact asked for (no date for "when") cannot answer at all.
        found = [c for c in found if c.typed]
        found.sort(key=lambda c: -c.score)
        return Evidence(tuple(found))

    def threshold_for(self, question: str) -> float:
        return self.threshold_de if looks_german(question) else self.threshold

    def supported(self, question: str, evidence: Evidence) -> bool:
        best = evidence.best
        return (
            best is not None
            and not evidence.unknown_terms
            and best.score >= self.threshold_for(question)
            and best.coverage >= self.min_coverage
        )

    def answer(self, question: str, passages: Sequence[Passage], evidence: Evidence) -> Answer:
        if not self.supported(question, evidence):
            return decline(question, passages, evidence)
        best = evidence.candidates[0].score
        floor = max(best - self._margin, self.threshold_for(question))
        chosen: list[Candidate] = []
        for candidate in evidence.candidates:
            if len(chosen) >= self._max or candidate.score < floor:
                break
            if not any(_similar(candidate, c) for c in chosen):
                chosen.append(candidate)
        # Readable order: documents by their best sentence, sentences within a document in text order.
        doc_rank: dict[str, int] = {}
        for c in chosen:
            doc_rank.setdefault(c.passage.chunk.source, len(doc_rank))
        chosen.sort(key=lambda c: (doc_rank[c.passage.chunk.source], c.start))
        citations = tuple(
            Citation(n=i, chunk=c.passage.chunk, quote=c.text, start=c.start, end=c.end, score=c.score)
            for i, c in enumerate(chosen, 1)
        )
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return Answer(text=text, citations=citations, grounded=True, question=question, related=tuple(passages))


def decline(question: str, passages: Sequence[Passage], evidence: Evidence | None = None) -> Answer:
    unknown = evidence.unknown_terms if evidence else ()
    if looks_german(question):
        text = "Dazu finde ich in den Dokumenten keine Antwort."
        if unknown:
            text += f" Sie erwähnen {', '.join(repr(t) for t in unknown)} nicht."
        text += " Die ähnlichsten Passagen stehen unten, sie beantworten die Frage aber nicht."
    else:
        text = "I could not find an answer to that in the documents."
        if unknown:
            text += f" They do not mention {', '.join(repr(t) for t in unknown)}."
        text += " The closest passages are listed below; they are related, but not an answer."
    return Answer(text=text, citations=(), grounded=False, question=question, related=tuple(passages[:3]))
