"""What one ingest run brings in: each source's bytes, its content hash, and the loaded `Document`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rag.errors import IngestError
from rag.language import document_language
from rag.settings import Settings
from rag.types import Document

from .chunk import CHUNKER_VERSION
from .discover import Target
from .load import fetch_url, load_bytes


@dataclass(frozen=True)
class Item:
    """One thing to bring into the index: its source name, and how to read its bytes and load it."""

    source: str
    read: Callable[[], bytes]
    load: Callable[[bytes], Document]


def content_hash(data: bytes, settings: Settings) -> str:
    """Hash of the file bytes and the chunking settings: either changing means re-chunking."""
    digest = hashlib.sha256(data)
    digest.update(
        f"|chunker={CHUNKER_VERSION}|{settings.chunk_words}|{settings.chunk_overlap_words}|{settings.embedding_model}".encode()
    )
    return digest.hexdigest()[:32]


def read_target(target: Target, settings: Settings) -> bytes:
    if target.url:
        return fetch_url(target.url, max_bytes=int(settings.max_file_mb * 1024 * 1024))
    assert target.path is not None
    try:
        size = target.path.stat().st_size
        limit = settings.max_file_mb * 1024 * 1024
        if size > limit:
            raise IngestError(
                f"file is {size / 1024 / 1024:.1f} MB, over the {settings.max_file_mb:g} MB limit (raise RAG_MAX_FILE_MB to accept it)"
            )
        if size == 0:
            raise IngestError("empty file")
        return target.path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read the file ({exc.strerror or exc})") from exc


def load_target(target: Target, data: bytes) -> Document:
    path = target.path or Path(target.url.rstrip("/").rsplit("/", 1)[-1] or "page")  # type: ignore[union-attr]
    if target.url and path.suffix.lower() not in (".pdf", ".docx", ".txt", ".md"):
        from .load import load_html

        return load_html(path, target.source, data, url=target.url)
    return load_bytes(path, target.source, data)


def with_language(document: Document) -> Document:
    """The document with its language in its metadata (detected when it declares none)."""
    if document.meta.get("language"):
        return document
    language = document_language(None, document.text)
    return replace(document, meta={**document.meta, "language": language}) if language else document
