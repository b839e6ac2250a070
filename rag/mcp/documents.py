"""The corpus's documents reassembled from the chunks in the store (offsets kept), for resources and passages.

The store holds chunks, not documents: each chunk is `document.text[start:end]`, and neighbouring chunks overlap
by a sentence. Stitching the chunks of one source in offset order gives back the document text; what no chunk
holds (whitespace between paragraphs) comes back as whitespace of the same length, so every offset still points at
the same character. Catalogues are cached per index generation, so an ingest shows up on the next call.
"""

from __future__ import annotations

import difflib
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from ..assistant import Assistant
from ..catalog import one_version
from ..errors import RagError
from ..types import Chunk

DOC_SCHEME = "doc://"
MAX_CONTEXT = 5000
_URI_SAFE = "/:@!$&'()*+,;="  # kept as is in doc:// URIs; '%', '?', '#', spaces and the rest are percent-encoded
_TEXT_CACHE = 32


class DocumentError(RagError):
    """An unknown source or offsets outside a document."""


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document: its metadata and its chunks' (id, start, end), in offset order."""

    source: str
    title: str
    url: str | None
    date: str | None
    language: str | None
    spans: tuple[tuple[str, int, int], ...]

    @property
    def length(self) -> int:
        return max((end for _, _, end in self.spans), default=0)

    @property
    def uri(self) -> str:
        return document_uri(self.source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "source": self.source,
            "title": self.title,
            "url": self.url,
            "date": self.date,
            "language": self.language,
            "chunks": len(self.spans),
            "characters": self.length,
        }


@dataclass(frozen=True)
class TextWindow:
    """Document text from `start` to `end`, around the span `span_start:span_end` that was asked for."""

    document: DocumentInfo
    start: int
    end: int
    text: str
    span_start: int
    span_end: int

    @property
    def span(self) -> str:
        return self.text[self.span_start - self.start : self.span_end - self.start]


def document_uri(source: str) -> str:
    """The resource URI of a source: `doc://` plus the source, percent-encoded where a URI needs it."""
    return DOC_SCHEME + quote(source, safe=_URI_SAFE)


def source_of(uri: str) -> str | None:
    """The source a `doc://` URI names (the inverse of `document_uri`), or None for another scheme."""
    if not uri.startswith(DOC_SCHEME):
        return None
    return unquote(uri[len(DOC_SCHEME) :])


def stitch(chunks: Iterable[Chunk], lo: int, hi: int) -> str:
    """The text `lo:hi` of a document from its chunks (any order, overlapping); gaps become whitespace."""
    parts: list[str] = []
    cursor = lo
    for chunk in sorted(chunks, key=lambda c: (c.start, c.end)):
        if chunk.end <= cursor or chunk.start >= hi:
            continue
        if chunk.start > cursor:
            parts.append(_gap(chunk.start - cursor))
            cursor = chunk.start
        stop = min(chunk.end, hi)
        parts.append(chunk.text[cursor - chunk.start : stop - chunk.start])
        cursor = stop
    if cursor < hi:
        parts.append(_gap(hi - cursor))
    return "".join(parts)


def _gap(n: int) -> str:
    """Whitespace for `n` characters no chunk holds (blank lines between paragraphs, mostly)."""
    return "\n" * n if n >= 2 else " " * n


class CorpusDocuments:
    """The documents of the assistant's index: a catalogue, whole texts and text windows. Thread-safe."""

    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._catalog: dict[str, DocumentInfo] = {}
        self._texts: OrderedDict[str, str] = OrderedDict()

    def catalog(self) -> dict[str, DocumentInfo]:
        """Every indexed document by source, sorted by source (raises `EmptyIndex` without an index)."""
        store = self._assistant.store
        generation = store.generation()
        with self._lock:
            if generation == self._generation:
                return self._catalog
        records: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for chunk_id, _, meta in store.iter_records(include_documents=False):
            records[str(meta["source"])].append((chunk_id, dict(meta)))
        catalog: dict[str, DocumentInfo] = {}
        for source in sorted(records):
            chosen = sorted(one_version(records[source], lambda r: r[1]), key=lambda r: (int(r[1]["start"]), int(r[1]["end"])))
            meta = chosen[0][1]
            catalog[source] = DocumentInfo(
                source=source,
                title=str(meta.get("title") or source),
                url=_first_url(chosen),
                date=str(meta["date"]) if meta.get("date") else None,
                language=str(meta["language"]) if meta.get("language") else None,
                spans=tuple((i, int(m["start"]), int(m["end"])) for i, m in chosen),
            )
        with self._lock:
            self._generation, self._catalog = generation, catalog
            self._texts.clear()
        return catalog

    def document(self, source: str) -> DocumentInfo:
        """One document's entry, or `DocumentError` naming the closest sources."""
        catalog = self.catalog()
        info = catalog.get(source)
        if info is None:
            close = difflib.get_close_matches(source, list(catalog), n=3, cutoff=0.5)
            hint = (
                f"did you mean {' or '.join(repr(c) for c in close)}?"
                if close
                else "use a `source` from the search tool's results or a doc:// resource's name"
            )
            raise DocumentError(f"unknown source {source!r}: the index has {len(catalog)} documents; {hint}")
        return info

    def text(self, source: str) -> str:
        """The whole text of a document, reassembled from its chunks."""
        info = self.document(source)
        with self._lock:
            cached = self._texts.get(source)
            if cached is not None:
                self._texts.move_to_end(source)
                return cached
        text = self._stitch(info, 0, info.length)
        with self._lock:
            self._texts[source] = text
            while len(self._texts) > _TEXT_CACHE:
                self._texts.popitem(last=False)
        return text

    def window(self, source: str, start: int, end: int, context: int = 300) -> TextWindow:
        """The text of `source` from `start - context` to `end + context` (clipped to the document)."""
        info = self.document(source)
        if not 0 <= context <= MAX_CONTEXT:
            raise DocumentError(f"context must be between 0 and {MAX_CONTEXT} characters (got {context})")
        if start < 0 or end <= start:
            raise DocumentError(
                f"offsets must satisfy 0 <= start < end (got start={start}, end={end}): "
                "pass the `start` and `end` of a citation or a search result"
            )
        if end > info.length:
            raise DocumentError(
                f"offsets {start}:{end} are outside {source!r}, which has {info.length} characters: "
                f"start and end must lie within 0:{info.length}"
            )
        lo, hi = max(0, start - context), min(info.length, end + context)
        return TextWindow(info, lo, hi, self._stitch(info, lo, hi), start, end)

    def _stitch(self, info: DocumentInfo, lo: int, hi: int) -> str:
        """The text `lo:hi` of a document; the catalogue is read again (once) when an ingest removed its chunks."""
        for attempt in range(2):
            ids = [i for i, start, end in info.spans if start < hi and end > lo]
            chunks = self._assistant.store.get(ids)
            if len(chunks) == len(ids):
                return stitch(chunks.values(), lo, hi)
            with self._lock:  # an ingest changed the document since the catalogue was read
                self._generation = None
            if attempt == 0:
                info = self.document(info.source)
        raise DocumentError(
            f"{info.source!r} is being re-indexed (some of its passages are missing): try again in a moment"
        )


def _first_url(records: list[tuple[str, dict[str, Any]]]) -> str | None:
    for _, meta in records:
        if meta.get("url"):
            return str(meta["url"])
    return None
