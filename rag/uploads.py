"""What the app needs to add documents to its index and take them out, without the engine importing `ingest`.

`Ingester` is the interface (two methods and the file types it reads); `ingest.uploads.FileIngester` is the
real one, given to `rag.server.create_app` by the entry point. This module also checks uploaded files before
anything is written: their names (made safe, never a path), types and sizes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from .errors import RagError
from .settings import Settings

Stage = Literal["queued", "reading", "embedding", "done", "failed"]
Result = Literal["added", "updated", "unchanged", "duplicate", "failed"]
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\-+()\[\] ]+")


class UploadRefused(RagError):
    """An upload that is not taken at all (nothing was written); `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422, code: str = "bad_upload") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class UploadsOff(RagError):
    """Upload and delete are turned off: read-only settings (403) or no ingester given (503)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: `done` (added, updated, unchanged or a duplicate of an indexed one) or `failed`."""

    stage: Literal["done", "failed"]
    result: Result
    detail: str
    source: str | None = None  # the document's source in the index (the one it duplicates, for `duplicate`)


class Ingester(Protocol):
    """Ingests files into the index and removes documents from it, committing each file as a whole or not at all."""

    suffixes: tuple[str, ...]  # the file types it reads, e.g. (".docx", ".md", ".pdf")

    def ingest_file(self, path: Path, stage: Callable[[Stage], None]) -> FileOutcome:
        """Ingest one file (its source is its file name), calling `stage("reading")`, then `stage("embedding")`."""
        ...

    def remove(self, source: str) -> int:
        """Remove every trace of one document (chunks, vectors, BM25 entries); the number of chunks removed."""
        ...


@dataclass(frozen=True)
class SafeName:
    """The name an uploaded file is stored and indexed under, and a note when it differs from the one sent."""

    name: str
    note: str | None = None


def safe_filename(raw: str) -> SafeName:
    """A file name that cannot leave the uploads folder: no folders, no leading dots, no control characters."""
    sent = raw or ""
    base = re.split(r"[\\/]", sent)[-1]
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", base)).strip(" .")
    cleaned = re.sub(r"_{2,}", "_", cleaned)
    if len(cleaned) > MAX_NAME_CHARS:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = stem[: MAX_NAME_CHARS - len(suffix) - 1] + dot + suffix if dot else cleaned[:MAX_NAME_CHARS]
    if not cleaned or not re.search(r"\w", Path(cleaned).stem):
        raise UploadRefused(f"the file name {sent!r} has no usable characters: rename the file and upload it again")
    if cleaned == sent:
        return SafeName(cleaned)
    if base != sent:
        why = "it holds a folder path, and uploads keep only the file name"
    else:
        why = "characters that are not safe in a file name were replaced"
    return SafeName(cleaned, f"{sent!r} was saved as {cleaned!r}: {why}")


@dataclass(frozen=True)
class Incoming:
    """One file of an upload as sent: its name and size (the bytes are written later, once all are checked)."""

    name: str
    size: int


def check_upload(files: Sequence[Incoming], suffixes: Sequence[str], settings: Settings) -> list[SafeName]:
    """The safe name of each file, or `UploadRefused` naming the first file that cannot be taken and why."""
    if not files:
        raise UploadRefused("no files in the upload: send one or more files in the multipart field 'files'")
    if len(files) > settings.upload_max_files:
        raise UploadRefused(
            f"{len(files)} files in one upload; at most {settings.upload_max_files} (RAG_UPLOAD_MAX_FILES): send them in parts",
            413,
            "too_large",
        )
    names = []
    limit = settings.max_file_mb * 1024 * 1024
    for item in files:
        safe = safe_filename(item.name)
        suffix = Path(safe.name).suffix.lower()
        if suffix not in suffixes:
            raise UploadRefused(
                f"{item.name!r}: unsupported file type {suffix or '(none)'!r}; the app reads {', '.join(sorted(suffixes))}",
                415,
                "unsupported_type",
            )
        if item.size > limit:
            raise UploadRefused(
                f"{item.name!r} is {item.size / 1024 / 1024:.1f} MB, over the {settings.max_file_mb:g} MB limit per file "
                "(RAG_MAX_FILE_MB)",
                413,
                "too_large",
            )
        if item.size == 0:
            raise UploadRefused(f"{item.name!r} is empty (0 bytes): nothing to index")
        names.append(safe)
    return names
