"""The engine's data: documents flow into chunks, chunks into passages, passages into answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(meta: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(meta or {}))


@dataclass(frozen=True)
class Source:
    """An original source a corpus document was written from (for citation links)."""

    title: str
    url: str
    date: str = ""


@dataclass(frozen=True)
class Document:
    """One loaded file or page. `segments` are (start, page) marks for paginated formats."""

    source: str
    title: str
    text: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    pages: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", _frozen(self.meta))


@dataclass(frozen=True)
class Chunk:
    """A slice `text == document.text[start:end]` of a document, the unit of retrieval."""

    id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", _frozen(self.meta))

    @property
    def page(self) -> int | None:
        page = self.meta.get("page")
        return int(page) if page is not None else None

    @property
    def url(self) -> str | None:
        return self.meta.get("url") or None

    @property
    def date(self) -> str | None:
        return self.meta.get("date") or None

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(self.meta.get("sources") or ())


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score (higher is better) and its rank (1-based)."""

    chunk: Chunk
    score: float
    rank: int = 0
    dense_score: float | None = None
    lexical_score: float | None = None
    scores: Mapping[str, float] = field(default_factory=dict)  # each candidate list's own score (dense, lexical, …)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", _frozen(self.scores))

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def title(self) -> str:
        return self.chunk.title


@dataclass(frozen=True)
class Citation:
    """`[n]` in an answer: `quote == document.text[start:end]`, taken from `chunk`."""

    n: int
    chunk: Chunk
    quote: str
    start: int
    end: int
    score: float = 0.0

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def title(self) -> str:
        return self.chunk.title

    @property
    def url(self) -> str | None:
        return self.chunk.url

    @property
    def date(self) -> str | None:
        return self.chunk.date

    @property
    def page(self) -> int | None:
        return self.chunk.page

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "url": self.url,
            "date": self.date,
            "page": self.page,
            "score": round(self.score, 4),
            "chunk_id": self.chunk.id,
            "passage": self.chunk.text,
            "passage_start": self.chunk.start,
            "sources": [s.__dict__ for s in self.chunk.sources],
        }


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation."""

    user: str
    assistant: str = ""


@dataclass(frozen=True)
class Answer:
    """The reply: `[n]` markers in `text` refer to `citations[n-1]`.

    `grounded=False` means the engine declined; `related` then holds the closest passages.
    """

    text: str
    citations: tuple[Citation, ...]
    grounded: bool
    question: str = ""
    related: tuple[Passage, ...] = ()
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    language: str = ""  # the question's language (detected); front ends label the answer in it

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings_ms", _frozen(self.timings_ms))

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "grounded": self.grounded,
            "citations": [c.to_dict() for c in self.citations],
            "related": [passage_to_dict(p) for p in self.related],
            "dropped": list(self.dropped),
            "notes": list(self.notes),
            "language": self.language,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def passage_to_dict(passage: Passage) -> dict[str, Any]:
    chunk = passage.chunk
    return {
        "rank": passage.rank,
        "score": round(passage.score, 4),
        "id": chunk.id,
        "source": chunk.source,
        "title": chunk.title,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "url": chunk.url,
        "date": chunk.date,
        "page": chunk.page,
    }
