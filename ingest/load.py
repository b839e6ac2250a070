"""Loaders: one file (or web page) in, one `Document` out, or an `IngestError` that says why not."""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import IngestError
from rag.language import document_language
from rag.text import HEADING_TITLE
from rag.types import Document, Source

from .frontmatter import split_front_matter
from .pdf import read_pdf
from .tables import dedupe_merged, markdown_table

log = logging.getLogger(__name__)

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_ZIP_RATIO = 200
_LIKELY_ENCODINGS = ["utf_16", "cp1252", "cp1251", "koi8_r", "cp1250", "iso8859_2"]


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), else the most likely legacy encoding; binary data is refused."""
    if b"\x00" in data[:8192]:
        raise IngestError("looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # Legacy encodings such documents come in (Western, Central European, Cyrillic); then anything.
    best = from_bytes(data, cp_isolation=_LIKELY_ENCODINGS).best() or from_bytes(data).best()
    if best is None:
        raise IngestError("not valid UTF-8 and no other text encoding fits")
    log.warning("%s: not UTF-8, read as %s", name, best.encoding)
    return str(best)


def _sources(meta: dict[str, Any]) -> tuple[Source, ...]:
    raw = meta.get("sources") or []
    if isinstance(raw, dict):
        raw = [raw]
    sources = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            sources.append(Source(title=item, url=item))
        elif isinstance(item, dict) and item.get("url"):
            sources.append(Source(title=str(item.get("title") or item["url"]), url=str(item["url"]), date=str(item.get("date") or "")))
    for key in ("url", "source_url"):
        if isinstance(meta.get(key), str) and not sources:
            sources.append(Source(title=str(meta.get("title") or meta[key]), url=meta[key], date=str(meta.get("date") or "")))
    return tuple(sources)


def _document(source: str, text: str, meta: dict[str, Any], fallback_title: str, pages: tuple = (), kind: str = "") -> Document:
    if not text.strip():
        raise IngestError("no text in the file")
    heading = HEADING_TITLE.search(text[:2000])
    title = str(meta.get("title") or (heading.group(1) if heading else "") or fallback_title)
    sources = _sources(meta)
    clean: dict[str, Any] = {k: v for k, v in meta.items() if k not in ("title", "sources") and isinstance(v, (str, int, float, bool))}
    clean["sources"] = sources
    language = document_language(meta.get("language"), text)  # declared, else detected: answering compares it
    if language:
        clean["language"] = language
    if sources and "url" not in clean:
        clean["url"] = sources[0].url
    if kind:
        clean["kind"] = kind
    return Document(source=source, title=title, text=text, meta=clean, pages=pages)


def load_text(path: Path, source: str, data: bytes) -> Document:
    meta, body = split_front_matter(decode_text(data, source))
    return _document(source, body, meta, _title_from_name(path), kind=path.suffix.lower().lstrip("."))


def load_html(path: Path, source: str, data: bytes, url: str | None = None) -> Document:
    import trafilatura

    html = decode_text(data, source)
    try:
        extracted = trafilatura.bare_extraction(html, url=url, include_comments=False, include_tables=True, with_metadata=True)
    except (RecursionError, ValueError, TypeError) as exc:
        raise IngestError(f"HTML could not be parsed ({type(exc).__name__})") from exc
    if extracted is None or not (extracted.text or "").strip():
        raise IngestError("no main text found in the HTML page")
    meta: dict[str, Any] = {}
    if extracted.title:
        meta["title"] = extracted.title
    if extracted.date:
        meta["date"] = extracted.date
    if extracted.language:
        meta["language"] = extracted.language
    if url:
        meta["url"] = url
    return _document(source, extracted.text, meta, _title_from_name(path), kind="html")


def load_pdf(path: Path, source: str, data: bytes) -> Document:
    """Text layer, ruled tables as Markdown and OCR for scanned pages (`ingest.pdf`), with page marks."""
    read = read_pdf(data, source)
    meta: dict[str, Any] = {"title": read.title} if read.title else {}
    if read.ocr_pages:
        meta["ocr_pages"] = ",".join(map(str, read.ocr_pages))
    if read.unread_pages:
        meta["unread_pages"] = ",".join(map(str, read.unread_pages))
    return _document(source, read.text, meta, _title_from_name(path), pages=read.pages, kind="pdf")


def _check_zip(data: bytes) -> None:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise IngestError("not a valid DOCX (the zip container is damaged)") from exc
    if total > MAX_UNZIPPED_BYTES or total > MAX_ZIP_RATIO * max(len(data), 1):
        raise IngestError(f"the DOCX would unpack to {total / 1e6:.0f} MB (zip bomb?): refused")


def load_docx(path: Path, source: str, data: bytes) -> Document:
    import io

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    _check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise IngestError(f"not a readable DOCX ({type(exc).__name__})") from exc
    from docx.table import Table

    paragraphs: list[str] = []
    heading = ""
    for block in document.iter_inner_content():  # paragraphs and tables in the order the document has them
        if isinstance(block, Table):
            paragraphs.append(_docx_table(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if not heading and (style.startswith("Heading") or style == "Title"):
            heading = text
        paragraphs.append(text)
    paragraphs = [p for p in paragraphs if p]
    meta: dict[str, Any] = {}
    title = (document.core_properties.title or heading or "").strip()
    if title:
        meta["title"] = title
    return _document(source, "\n\n".join(paragraphs), meta, _title_from_name(path), kind="docx")


def _docx_table(table: Any) -> str:
    """A DOCX table in Markdown; a one-column or one-row table as its cells' lines (a framed note, a list)."""
    rows = [[cell.text for cell in dedupe_merged(row.cells)] for row in table.rows]
    markdown = markdown_table(rows)
    if markdown:
        return markdown
    return "\n".join(" | ".join(c.strip() for c in row if c.strip()) for row in rows if any(c.strip() for c in row))


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


LOADERS: dict[str, Callable[[Path, str, bytes], Document]] = {
    ".md": load_text,
    ".markdown": load_text,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def load_bytes(path: Path, source: str, data: bytes) -> Document:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise IngestError(f"unsupported file type {path.suffix!r}: ingest reads {', '.join(sorted(LOADERS))}")
    return loader(path, source, data)


def fetch_url(url: str, timeout: float = 20.0, max_bytes: int = 20 * 1024 * 1024) -> bytes:
    """Download a web page (for `python -m ingest https://…`)."""
    import httpx

    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            response.raise_for_status()
            chunks, size = [], 0
            for part in response.iter_bytes():
                size += len(part)
                if size > max_bytes:
                    raise IngestError(f"the page is larger than {max_bytes // 1_000_000} MB")
                chunks.append(part)
    except httpx.HTTPError as exc:
        raise IngestError(f"cannot fetch {url} ({exc})") from exc
    return b"".join(chunks)
