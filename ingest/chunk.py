"""Sentence-aware chunking into ~150-word slices of the document text, with stable ids and offsets."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from rag.text import sentence_spans
from rag.types import Chunk, Document

from .tables import find_tables, header_for

_WORD_SPAN = re.compile(r"\S+")
# 4: chunks record their sentences (n_sentences), stored with multilingual vectors; 5: table rows are sentences,
# a chunk inside a table's body carries its header (`ingest.tables`)
CHUNKER_VERSION = "5"
TokenCounter = Callable[[Sequence[str]], list[int]]


def _segments(doc: Document) -> list[tuple[int, int, int | None]]:
    """(start, end, page) ranges: one per page for paginated documents, else the whole text."""
    if not doc.pages:
        return [(0, len(doc.text), None)]
    marks = list(doc.pages) + [(len(doc.text), -1)]
    return [(start, marks[i + 1][0], page) for i, (start, page) in enumerate(doc.pages)]


def _units(text: str, start: int, end: int, max_words: int, max_tokens: int, count_tokens: TokenCounter | None) -> list[tuple[int, int, int, int]]:
    """Sentence spans (start, end, words, tokens); a sentence over either limit is cut at word boundaries."""
    spans = sentence_spans(text, start, end)
    tokens = count_tokens([text[a:b] for a, b in spans]) if count_tokens and spans else [0] * len(spans)
    units = []
    for (a, b), n_tokens in zip(spans, tokens):
        words = [(m.start(), m.end()) for m in _WORD_SPAN.finditer(text, a, b)]
        pieces = max(math.ceil(len(words) / max_words), math.ceil(n_tokens / max_tokens) if max_tokens else 1, 1)
        step = math.ceil(len(words) / pieces)
        for i in range(0, len(words), step):
            part = words[i : i + step]
            units.append((part[0][0], part[-1][1], len(part), math.ceil(n_tokens * len(part) / len(words))))
    return units


def _pack(units: list[tuple[int, int, int, int]], max_words: int, overlap_words: int, max_tokens: int) -> list[tuple[int, int]]:
    """Greedy packing of whole sentences; each chunk starts with the previous chunk's last sentences (overlap)."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, words, tokens = i, 0, 0
        while j < len(units) and (j == i or (words + units[j][2] <= max_words and tokens + units[j][3] <= max_tokens)):
            words += units[j][2]
            tokens += units[j][3]
            j += 1
        spans.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # Step back over trailing sentences that fit in the overlap budget, but always move forward.
        back, carried = j, 0
        limit = min(overlap_words, max_words - units[j][2])
        while back - 1 > i and carried + units[back - 1][2] <= limit:
            back -= 1
            carried += units[back][2]
        i = back
    return spans


def chunk_id(source: str, position: int, text: str) -> str:
    digest = hashlib.blake2b(f"{source}\x00{position}\x00{text}".encode(), digest_size=12).hexdigest()
    return digest


def chunk_document(
    doc: Document,
    doc_hash: str,
    max_words: int = 150,
    overlap_words: int = 25,
    max_tokens: int = 0,
    count_tokens: TokenCounter | None = None,
) -> list[Chunk]:
    """All chunks of `doc`; `chunk.text == doc.text[chunk.start:chunk.end]` for each.

    A chunk that starts inside a Markdown table's body has the table's header lines in `meta["table_header"]`:
    context for embedding and BM25 (a row reads "| X | 80% | 95% |", the header says which column is 2029), not
    part of `text`, so quotes stay exact slices of the document.

    With `count_tokens`, chunks also stay within `max_tokens` model tokens, so that languages the tokenizer
    splits finely (German for an English WordPiece model) are not cut off by the model's input limit.
    """
    spans: list[tuple[int, int, int | None]] = []
    token_budget = max_tokens if count_tokens and max_tokens else 10**9
    for start, end, page in _segments(doc):
        units = _units(doc.text, start, end, max_words, token_budget if count_tokens else 0, count_tokens)
        for a, b in _pack(units, max_words, overlap_words, token_budget):
            spans.append((a, b, page))
    chunks = []
    tables = find_tables(doc.text) if "|" in doc.text else []
    for position, (a, b, page) in enumerate(spans):
        text = doc.text[a:b]
        meta: dict[str, Any] = dict(doc.meta)
        meta.update(
            {"doc_hash": doc_hash, "n_chunks": len(spans), "position": position, "n_sentences": len(sentence_spans(text))}
        )
        if page is not None:
            meta["page"] = page
        header = header_for(tables, doc.text, a)
        if header:
            meta["table_header"] = header
        chunks.append(Chunk(chunk_id(doc.source, position, text), doc.source, doc.title, text, a, b, meta))
    return chunks
