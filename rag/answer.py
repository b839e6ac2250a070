"""The extractive answerer: it quotes the retrieved sentences that answer the question, each with `[n]`.

It never writes a sentence of its own, so it cannot invent a fact. It declines (`grounded=False`) when the
best supporting sentence is too weak, or when the question names something the corpus never mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .embedder import Embedder
from .text import content_terms, is_heading, sentence_spans, word_count
from .types import Answer, Citation, Passage

_GERMAN_HINTS = frozenset("der die das und ist nicht wer wie was wann warum welche welcher welches hat haben wurde sind im für über mit".split())


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int  # absolute offsets into the document text
    end: int
    text: str
    semantic: float
    lexical: float

    @property
    def score(self) -> float:
        return self.semantic + 0.25 * self.lexical


@dataclass(frozen=True)
class Evidence:
    """How strongly the passages support an answer; `score` is compared with the refusal threshold."""

    candidates: tuple[Candidate, ...]
    score: float
    unknown_terms: tuple[str, ...] = ()


def looks_german(text: str) -> bool:
    words = re.findall(r"[a-zäöüß]+", text.lower())
    return sum(w in _GERMAN_HINTS for w in words) >= 2 or any(ch in text for ch in "äöüß")


def candidates(
    question: str, passages: Sequence[Passage], embedder: Embedder, query_vector: np.ndarray, limit: int = 12
) -> list[Candidate]:
    """The passages' most promising sentences, scored against the question (semantic + term overlap).

    Embedding sentences is the costly step of answering, so only the `limit` sentences with the most
    question terms (ties: better-ranked passage first) are embedded and scored.
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
    overlaps = [len(terms & content_terms(s[3])) / len(terms) if terms else 0.0 for s in spans]
    order = sorted(range(len(spans)), key=lambda i: (-overlaps[i], spans[i][0].rank, i))[:limit]
    # The title gives a sentence its subject ("The law took effect…" is about the AI law).
    vectors = embedder.embed_documents([f"{spans[i][0].chunk.title}: {spans[i][3]}" for i in order])
    semantic = vectors @ np.asarray(query_vector, dtype=np.float32)
    wants = expected_answer_type(question)
    return [
        Candidate(spans[i][0], spans[i][1], spans[i][2], spans[i][3], float(sim) + _type_bonus(wants, spans[i][3]), overlaps[i])
        for i, sim in zip(order, semantic)
    ]


_WHEN = re.compile(r"^\s*(when|since when|until when|wann|seit wann|bis wann)\b|\b(what|which) (year|date|month|day)\b|\bin welchem jahr\b", re.I)
_HOW_MUCH = re.compile(r"\b(how (many|much|large|big)|what (share|percentage|proportion|number|amount)|wie (viele?|groß|hoch))\b", re.I)
_DATE = re.compile(
    r"\b(1[89]\d\d|20\d\d)\b|\b(january|february|march|april|may|june|july|august|september|october|november|december|"
    r"januar|februar|märz|mai|juni|juli|oktober|dezember)\b",
    re.I,
)


def expected_answer_type(question: str) -> str:
    if _WHEN.search(question):
        return "date"
    if _HOW_MUCH.search(question):
        return "number"
    return ""


def _type_bonus(wants: str, sentence: str) -> float:
    """A small nudge towards sentences that hold the kind of fact asked for (a date for "when")."""
    if wants == "date":
        return 0.05 if _DATE.search(sentence) else 0.0
    if wants == "number":
        return 0.05 if re.search(r"\d", sentence) else 0.0
    return 0.0


def _similar(a: Candidate, b: Candidate) -> bool:
    ta, tb = content_terms(a.text), content_terms(b.text)
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6


class ExtractiveAnswerer:
    """Selects up to `max_sentences` supporting sentences in a readable order and cites each one."""

    def __init__(
        self, embedder: Embedder, threshold: float, max_sentences: int = 3, candidates: int = 6, margin: float = 0.12
    ) -> None:
        self._embedder = embedder
        self.threshold = threshold
        self._max = max_sentences
        self._candidates = candidates
        self._margin = margin

    def evidence(
        self, question: str, passages: Sequence[Passage], query_vector: np.ndarray, unknown_terms: Sequence[str] = ()
    ) -> Evidence:
        """Scored sentences; when the question names something the corpus lacks, none are scored at all."""
        if unknown_terms:
            return Evidence((), 0.0, tuple(unknown_terms))
        found = candidates(question, passages, self._embedder, query_vector, self._candidates)
        found.sort(key=lambda c: -c.score)
        return Evidence(tuple(found), found[0].score if found else 0.0)

    def answer(self, question: str, passages: Sequence[Passage], evidence: Evidence) -> Answer:
        if not evidence.candidates or evidence.score < self.threshold or evidence.unknown_terms:
            return decline(question, passages, evidence)
        best = evidence.candidates[0].score
        chosen: list[Candidate] = []
        for candidate in evidence.candidates:
            if len(chosen) >= self._max or candidate.score < max(best - self._margin, self.threshold):
                break
            if not any(_similar(candidate, c) for c in chosen):
                chosen.append(candidate)
        # Readable order: documents by their best sentence, sentences within a document in text order.
        doc_rank = {}
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
