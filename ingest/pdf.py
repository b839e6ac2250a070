"""A PDF's text page by page: the text layer (pypdf), its ruled tables as Markdown (pdfplumber), OCR for scans.

Pages keep their numbers: `PdfText.pages` marks where each page starts in `text`, so a chunk (and a citation of
OCRed or tabular text) points at its page. Pages without tables keep pypdf's text as before; a page whose
tables pdfplumber finds is written as its lines outside the tables and the tables (`ingest.tables`), top to
bottom. A page whose text layer is (nearly) empty is OCRed (`ingest.ocr`).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from rag.errors import IngestError

from . import ocr
from .tables import markdown_table

log = logging.getLogger(__name__)

# A page with fewer letters and digits than this in its text layer is taken for a scan (a scanner's stamp or a
# page number is all such a layer holds); its OCR text replaces the layer when OCR reads more.
MIN_TEXT_CHARS = 20


@dataclass(frozen=True)
class PdfText:
    """A PDF's text, where each page starts in it, its title, and which pages OCR read or had to leave out."""

    text: str
    pages: tuple[tuple[int, int], ...]
    title: str
    ocr_pages: tuple[int, ...] = ()
    unread_pages: tuple[int, ...] = ()


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def _in_table(obj: dict[str, Any], boxes: list[tuple[float, float, float, float]]) -> bool:
    """A character whose centre lies in a table's box (by the centre: a line just above a table touches its box)."""
    if obj.get("object_type") != "char":
        return False
    x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)


def _page_with_tables(page: Any) -> str | None:
    """The page as its lines outside tables and its tables in Markdown, in reading order; None without tables."""
    found = []
    for table in page.find_tables():
        markdown = markdown_table(table.extract())
        if markdown:
            found.append((table.bbox, markdown))
    if not found:
        return None
    boxes = [bbox for bbox, _ in found]
    outside = page.filter(lambda obj: not _in_table(obj, boxes))
    items = [(line["top"], False, line["text"]) for line in outside.extract_text_lines() if line["text"].strip()]
    items += [(bbox[1], True, markdown) for bbox, markdown in found]
    items.sort(key=lambda item: item[0])
    parts: list[str] = []
    for _, is_table, text in items:
        if is_table or not parts or parts[-1].startswith("|"):
            parts.append(text)  # a table is a paragraph of its own (blank lines around it)
        else:
            parts[-1] += "\n" + text
    return "\n\n".join(parts)


def _tables(data: bytes, numbers: list[int], name: str) -> dict[int, str]:
    """Pages (by number) with ruled tables, rewritten by `_page_with_tables`; {} where pdfplumber fails."""
    import pdfplumber
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import MalformedPDFException, PdfminerException

    unreadable = (PSException, PdfminerException, MalformedPDFException, ValueError, KeyError, TypeError, IndexError)

    rewritten: dict[int, str] = {}
    try:
        with pdfplumber.open(io.BytesIO(data), password="") as pdf:
            for number in numbers:
                page = pdf.pages[number - 1]
                if not (page.rects or page.lines):
                    continue  # no ruling: no table the "lines" strategy could find
                try:
                    text = _page_with_tables(page)
                except unreadable as exc:
                    log.warning("%s: tables on page %d could not be read (%s): kept as plain text", name, number, exc)
                    continue
                if text:
                    rewritten[number] = text
    except (*unreadable, OSError) as exc:
        log.warning("%s: tables could not be read (%s: %s): kept as plain text", name, type(exc).__name__, exc)
    return rewritten


def read_pdf(data: bytes, name: str) -> PdfText:
    """The text of every page of the PDF `data` (see the module's docstring), or an `IngestError` saying why not."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("the PDF is encrypted with a password: decrypt it first (e.g. `qpdf --decrypt`)")
        texts = {number: (page.extract_text() or "").strip() for number, page in enumerate(reader.pages, 1)}
        info = reader.metadata or {}
        title = str(info.get("/Title") or "").strip()
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, NotImplementedError) as exc:
        raise IngestError(f"the PDF is damaged or unreadable ({type(exc).__name__}: {exc})") from exc
    scanned = [number for number, text in texts.items() if _letters(text) < MIN_TEXT_CHARS]
    texts.update(_tables(data, [n for n in texts if n not in scanned], name))
    read = ocr.ocr_pages(data, [n - 1 for n in scanned], name) if scanned else {}
    ocr_pages: list[int] = []
    for number in scanned:
        text = (read or {}).get(number - 1, "")
        if _letters(text) > _letters(texts[number]):
            texts[number] = text
            ocr_pages.append(number)
    unread = tuple(scanned) if read is None else ()
    if unread:
        listed = ", ".join(map(str, unread))
        log.warning("%s: page(s) %s have no text layer (scanned) and were left out: %s", name, listed, ocr.INSTALL_HINT)
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for number, text in texts.items():
        if not text:
            continue
        if parts:
            offset += 2  # the "\n\n" joining pages
        pages.append((offset, number))
        parts.append(text)
        offset += len(text)
    if not parts:
        if unread:
            raise IngestError(f"the PDF has no text layer (a scan) and OCR is not available: {ocr.INSTALL_HINT}")
        raise IngestError("the PDF has no extractable text, and OCR found none on its pages either")
    return PdfText("\n\n".join(parts), tuple(pages), title, tuple(ocr_pages), unread)
