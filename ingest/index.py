"""An ingest run: new and changed files are chunked, embedded and upserted; vanished files are removed.

Crash safety comes from the order of writes. A file's new chunks are upserted before its old chunks are
deleted (at the end of the run), and every chunk records its file's content hash and chunk count, so after a crash at any point
the next run sees the file as incomplete (mixed hashes or missing chunks) and redoes it. Chunk ids are
derived from source, position and content, so redoing is an idempotent upsert.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from rag.embedder import Embedder, SentenceTransformerEmbedder
from rag.errors import IndexBusy, IngestError
from rag.lexical import LexicalIndex, cache_key
from rag.settings import Settings
from rag.store import VectorStore
from rag.types import Chunk, Document

from .chunk import CHUNKER_VERSION, chunk_document
from .discover import Target, discover, in_scope
from .load import fetch_url, load_bytes

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"documents: {len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped, {len(self.failed)} failed; "
            f"chunks: +{self.chunks_added} -{self.chunks_removed}; {self.seconds:.1f}s"
        )


def content_hash(data: bytes, settings: Settings) -> str:
    """Hash of the file bytes and the chunking settings: either changing means re-chunking."""
    digest = hashlib.sha256(data)
    digest.update(
        f"|chunker={CHUNKER_VERSION}|{settings.chunk_words}|{settings.chunk_overlap_words}|{settings.embedding_model}".encode()
    )
    return digest.hexdigest()[:32]


def _read(target: Target, settings: Settings) -> bytes:
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


def _load(target: Target, data: bytes) -> Document:
    path = target.path or Path(target.url.rstrip("/").rsplit("/", 1)[-1] or "page")  # type: ignore[union-attr]
    if target.url and path.suffix.lower() not in (".pdf", ".docx", ".txt", ".md"):
        from .load import load_html

        return load_html(path, target.source, data, url=target.url)
    return load_bytes(path, target.source, data)


def lock_index(settings: Settings, wait_seconds: float) -> FileLock:
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock_path = settings.index_dir / "ingest.lock"
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout as exc:
        raise IndexBusy(
            f"another ingest is writing to {settings.index_dir} (lock {lock_path}): wait for it to finish, "
            "or pass --wait SECONDS to queue behind it"
        ) from exc
    return lock


class Indexer:
    """Brings the store in line with a set of files."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(settings)

    def run(self, args: Sequence[str], *, rebuild: bool = False, progress: bool = False, wait_seconds: float = 0) -> IngestReport:
        started = time.perf_counter()
        lock = lock_index(self.settings, wait_seconds)
        try:
            report = self._run(list(args), rebuild=rebuild, progress=progress)
        finally:
            lock.release()
        report.seconds = time.perf_counter() - started
        log.debug(report.summary())
        return report

    def _run(self, args: list[str], *, rebuild: bool, progress: bool) -> IngestReport:
        report = IngestReport()
        self._changing = False
        self._superseded: list[str] = []
        found = discover(args)
        report.skipped.extend(found.skipped)
        report.failed.extend(found.failed)
        for name, reason in found.skipped:
            log.warning("skipped %s: %s", name, reason)
        for name, reason in found.failed:
            log.error("failed %s: %s", name, reason)

        if rebuild:
            self._drop()
        store = VectorStore(self.settings, self.embedder.name, create=True)
        stored = store.files()

        pending: list[tuple[Document, list[Chunk]]] = []
        seen: set[str] = set()
        bar = _progress(len(found.targets), "files", progress)
        for target in found.targets:
            seen.add(target.source)
            bar.update(1)
            try:
                data = _read(target, self.settings)
                digest = content_hash(data, self.settings)
                current = stored.get(target.source)
                if current is not None and current.complete and current.content_hash == digest:
                    report.unchanged.append(target.source)
                    continue
                document = _load(target, data)
                chunks = self._chunk(document, digest)
            except IngestError as exc:
                report.failed.append((target.source, str(exc)))
                log.error("failed %s: %s", target.source, exc)
                continue
            except Exception as exc:  # a loader bug must not stop the run or lose stored data
                report.failed.append((target.source, f"unexpected {type(exc).__name__}: {exc}"))
                log.exception("failed %s", target.source)
                continue
            pending.append((document, chunks))
            if sum(len(c) for _, c in pending) >= self.settings.ingest_batch_chunks:
                self._commit(store, pending, stored, report, progress)
                pending = []
        bar.close()
        if pending:
            self._commit(store, pending, stored, report, progress)

        # Old versions of updated files go only now, after every new chunk is in: a reader (which may hold an
        # older copy of the vectors) then sees each file's old or new version, never neither.
        store.delete(self._superseded)
        failed = {name for name, _ in report.failed}
        for source, info in stored.items():
            if source not in seen and source not in failed and in_scope(source, found.scopes):
                self._mark_changing(store)
                store.delete(sorted(info.ids))
                report.removed.append(source)
                report.chunks_removed += len(info.ids)
        if report.added or report.updated or report.removed or rebuild or not store.generation():
            generation = store.bump_generation()
            self._cache_lexical(store, generation)
        return report

    def _mark_changing(self, store: VectorStore) -> None:
        """Change the generation before the first write too, so that readers never keep a BM25 index that a
        crashed run left behind (the final bump after the last write may never happen)."""
        if not self._changing:
            store.bump_generation()
            self._changing = True

    def _chunk(self, document: Document, digest: str) -> list[Chunk]:
        counter = getattr(self.embedder, "count_tokens", None)
        budget = self.embedder.passage_token_budget(document.title) if counter else 0  # type: ignore[attr-defined]
        return chunk_document(
            document, digest, self.settings.chunk_words, self.settings.chunk_overlap_words, budget, counter
        )

    def _commit(self, store: VectorStore, pending: list[tuple[Document, list[Chunk]]], stored: dict, report: IngestReport, progress: bool) -> None:
        """Embed a batch of files' chunks, then write each file: upsert new chunks, delete its stale ones."""
        texts = [_embedding_text(c) for _, chunks in pending for c in chunks]
        vectors = self.embedder.embed_documents(texts) if texts else np.zeros((0, 0))
        self._mark_changing(store)
        offset = 0
        for document, chunks in pending:
            part = vectors[offset : offset + len(chunks)]
            offset += len(chunks)
            store.upsert(chunks, part)
            previous = stored.get(document.source)
            new_ids = {c.id for c in chunks}
            stale = sorted(previous.ids - new_ids) if previous else []
            self._superseded.extend(stale)
            if previous is None:
                report.added.append(document.source)
            else:
                report.updated.append(document.source)
            report.chunks_added += len(new_ids - (previous.ids if previous else frozenset()))
            report.chunks_removed += len(stale)
            log.info("committed %s (%d chunks)", document.source, len(chunks))

    def _drop(self) -> None:
        try:
            VectorStore(self.settings, self.embedder.name, create=False).drop()
        except Exception as exc:  # noqa: BLE001 - nothing to drop, or a model mismatch we are about to fix
            log.info("nothing to drop (%s)", exc)
            from rag.store import make_client

            client = make_client(self.settings)
            names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
            if self.settings.collection in names:
                client.delete_collection(self.settings.collection)

    def _cache_lexical(self, store: VectorStore, generation: str) -> None:
        folder = self.settings.index_dir / "lexical" / self.settings.collection
        folder.parent.mkdir(parents=True, exist_ok=True)
        LexicalIndex.build(store.iter_records()).save(folder, cache_key(store.location, self.settings.collection, generation))


def _embedding_text(chunk: Chunk) -> str:
    """The title gives each chunk its context (which document, which topic)."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title and not chunk.text.lstrip("# ").startswith(chunk.title) else chunk.text


class _NoBar:
    def update(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, unit: str, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled or total < 2:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, disable=not sys.stderr.isatty() and not os.environ.get("RAG_PROGRESS"))
