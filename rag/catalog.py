"""The indexed documents as a list: one entry per source, from the chunks' metadata only (no texts, no vectors).

The list is rebuilt only when the store's generation marker changes (every committed ingest or removal changes
it), so listing a large index costs one metadata read per change and a generation check per call.

Catalog(store, uploads_dir).entries()  -> (DocumentEntry, ...) sorted by title
Catalog(...).find(document_id)         -> the entry, or `UnknownDocument` saying how to find a valid id
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from .errors import RagError
from .store import VectorStore


class UnknownDocument(RagError):
    """No indexed document has this id."""


@dataclass(frozen=True)
class DocumentEntry:
    """One indexed document. `added` is when it was uploaded through the app (None for `python -m ingest`)."""

    id: str
    source: str
    title: str
    language: str | None
    date: str | None
    passages: int
    added: str | None
    url: str | None = None
    kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def document_id(source: str) -> str:
    """A stable, URL-safe id for a source (sources hold slashes, colons and spaces)."""
    return hashlib.blake2b(source.encode(), digest_size=8).hexdigest()


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


T = TypeVar("T")


def one_version(records: list[T], meta: Callable[[T], Mapping[str, Any]]) -> list[T]:
    """The records of one version of a file: while an ingest replaces it, the old and the new version are both
    stored; the complete one (all `n_chunks` of its `doc_hash`) counts, else the larger."""
    versions: dict[str, list[T]] = defaultdict(list)
    for record in records:
        versions[str(meta(record).get("doc_hash", ""))].append(record)
    if len(versions) == 1:
        return records
    complete = [v for v in versions.values() if len(v) == int(meta(v[0]).get("n_chunks", -1))]
    return max(complete or versions.values(), key=len)


def summarise(records: Mapping[str, list[Mapping[str, Any]]], added: Mapping[str, str]) -> list[DocumentEntry]:
    """One entry per source from its chunks' metadata; while an ingest replaces a file, its complete version counts."""
    entries = []
    for source, metas in records.items():
        chosen = one_version(metas, lambda m: m)
        first = min(chosen, key=lambda m: int(m.get("position", 0)))
        entries.append(
            DocumentEntry(
                id=document_id(source),
                source=source,
                title=str(first.get("title") or source),
                language=_text(first.get("language")),
                date=_text(first.get("date")),
                passages=len(chosen),
                added=added.get(source),
                url=_text(first.get("url")),
                kind=_text(first.get("kind")),
            )
        )
    return sorted(entries, key=lambda e: (e.title.casefold(), e.source))


def upload_times(folder: Path | None) -> dict[str, str]:
    """{file name: when it was stored} for the files uploaded through the app (their source is the file name)."""
    if folder is None or not folder.is_dir():
        return {}
    times = {}
    with os.scandir(folder) as found:
        for item in found:
            if item.is_file() and not item.name.startswith("."):
                stamp = datetime.fromtimestamp(item.stat().st_mtime, tz=timezone.utc)
                times[item.name] = stamp.isoformat(timespec="seconds")
    return times


class Catalog:
    """The documents of one index, cached per index generation. Thread-safe."""

    def __init__(self, store: Callable[[], VectorStore], uploads_dir: Path | None = None) -> None:
        self._store = store  # a callable, so that a missing index is reported when listing, not when building
        self._uploads_dir = uploads_dir
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._entries: tuple[DocumentEntry, ...] = ()

    def entries(self) -> tuple[DocumentEntry, ...]:
        """Every indexed document (raises `EmptyIndex` without an index)."""
        store = self._store()
        generation = store.generation()
        with self._lock:
            if generation == self._generation:
                return self._entries
        records: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for _, _, meta in store.iter_records(include_documents=False):
            records[str(meta["source"])].append(meta)
        entries = tuple(summarise(records, upload_times(self._uploads_dir)))
        with self._lock:
            self._generation, self._entries = generation, entries
        return entries

    def find(self, document_id: str) -> DocumentEntry:
        """The entry with this id (`UnknownDocument` when there is none)."""
        for entry in self.entries():
            if entry.id == document_id:
                return entry
        raise UnknownDocument(
            f"no indexed document has the id {document_id!r}: GET /api/documents lists the documents with their ids"
        )

    def forget(self) -> None:
        """Drop the cached list (after an upload file was stored or removed without a change of generation)."""
        with self._lock:
            self._generation = None
