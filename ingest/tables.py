"""Tables as Markdown: how loaders write them into a document's text, and how the chunker finds them again.

A table becomes a Markdown table of its own paragraph (blank lines around it), first row as the header:

    | Indicator | 2025 | 2029 |
    | --- | --- | --- |
    | Share of public services online | 80% | 95% |

Each row is a line, so each row is a sentence (`rag.text.TABLE_ROW`): a question about one row is answered by
quoting that row, and the quote stays an exact slice of the document text. A chunk that starts inside a table's
body carries the header and separator lines in `meta["table_header"]` (see `ingest.chunk`): context for the
embedding and BM25, never part of the chunk's text, so `chunk.text == document.text[start:end]` still holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text import TABLE_ROW, TABLE_SEPARATOR

_SPACE = re.compile(r"\s+")


def _cell(value: object) -> str:
    """One cell on one line: whitespace collapsed, pipes escaped so they do not end the cell."""
    text = _SPACE.sub(" ", "" if value is None else str(value)).strip()
    return text.replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table of `rows` (the first is the header); "" when fewer than two rows or columns have text."""
    cleaned = [[_cell(c) for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    width = max((len(row) for row in cleaned), default=0)
    filled = [i for i in range(width) if any(i < len(row) and row[i] for row in cleaned)]
    if len(cleaned) < 2 or len(filled) < 2:
        return ""  # a framed paragraph or a one-column list: its text reads better as text
    lines = []
    for n, row in enumerate(cleaned):
        cells = [row[i] if i < len(row) else "" for i in filled]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("| " + " | ".join("---" for _ in filled) + " |")
    return "\n".join(lines)


def dedupe_merged(cells: Sequence[object]) -> list[object]:
    """A row's cells with horizontally merged cells once (python-docx repeats a merged cell per grid column)."""
    out: list[object] = []
    for cell in cells:
        if not out or getattr(cell, "_tc", cell) is not getattr(out[-1], "_tc", out[-1]):
            out.append(cell)
    return out


@dataclass(frozen=True)
class TableSpan:
    """Where a Markdown table lies in a text: its header lines (header row and separator), then its body."""

    header_start: int
    header_end: int  # end of the separator line
    end: int  # end of the last row


def find_tables(text: str) -> list[TableSpan]:
    """Every Markdown table in `text` (a header row directly followed by a separator line)."""
    rows = list(TABLE_ROW.finditer(text))
    tables: list[TableSpan] = []
    i = 0
    while i + 1 < len(rows):
        head, sep = rows[i], rows[i + 1]
        if not (TABLE_SEPARATOR.match(sep.group()) and text[head.end() : sep.start()] == "\n"):
            i += 1
            continue
        j = i + 1
        while j + 1 < len(rows) and text[rows[j].end() : rows[j + 1].start()] == "\n":
            j += 1
        tables.append(TableSpan(head.start(), sep.end(), rows[j].end()))
        i = j + 1
    return tables


def header_for(tables: Sequence[TableSpan], text: str, start: int) -> str:
    """The header lines of the table whose body `start` lies in ("" when it lies in none, or at a header)."""
    for table in tables:
        if table.header_end < start <= table.end:
            return text[table.header_start : table.header_end]
    return ""
