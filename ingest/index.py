"""An ingest run: new and changed files are chunked, embedded and upserted; vanished files are removed.

Crash safety comes from the order of writes. A file's new chunks are upserted before its old chunks are
deleted (at the end of the run), and every chunk records its file's content hash and chunk count, so after a crash at any point
the next run sees the file as incomplete (mixed hashes or missing chunks) and redoes it. Chunk ids are
derived from source, position and content, so redoing is an idempotent upsert. A run marks the index open
while it writes; the next run after an interrupted one also sweeps the side collections (see `write`).

`Indexer.run` ingests files, folders and URLs; `index_documents` ingests `Document`s built elsewhere (an
evaluation set, another program's records) with the same chunking, embedding and guarantees.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from filelock import FileLock, Timeout

from rag.embedder import Embedder, SentenceTransformerEmbedder
from rag.errors import IndexBusy, IngestError
from rag.multilingual import build_multilingual
from rag.settings import Settings
from rag.store import VectorStore, collection_names
from rag.types import Chunk, Document

from .chunk import chunk_document
from .discover import discover, in_scope
from .items import Item, content_hash, load_target, read_target, with_language
from .write import STAGES, cache_lexical, delete, embed_chunks, reconcile, write

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
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))  # where `seconds` went

    def spent(self, stage: str, started: float) -> None:
        self.stage_seconds[stage] += time.perf_counter() - started

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"documents: {len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped, {len(self.failed)} failed; "
            f"chunks: +{self.chunks_added} -{self.chunks_removed}; {self.seconds:.1f}s"
        )

    def stages(self) -> str:
        """Where the time went, e.g. "embed_passages 36.6s (52%), ..." (largest first)."""
        total = self.seconds or sum(self.stage_seconds.values()) or 1.0
        spent = sorted(self.stage_seconds.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name} {s:.1f}s ({100 * s / total:.0f}%)" for name, s in spent if s >= 0.05)


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
    """Brings the store in line with a set of files (or documents)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, multilingual: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(settings)
        self.multilingual = multilingual or build_multilingual(settings)

    def run(self, args: Sequence[str], *, rebuild: bool = False, progress: bool = False, wait_seconds: float = 0) -> IngestReport:
        """Ingest files, folders and URLs; files that vanished from a folder given here are removed."""
        report = IngestReport()
        found = discover(list(args))
        report.skipped.extend(found.skipped)
        report.failed.extend(found.failed)
        for name, reason in found.skipped:
            log.warning("skipped %s: %s", name, reason)
        for name, reason in found.failed:
            log.error("failed %s: %s", name, reason)
        items = [Item(t.source, lambda t=t: read_target(t, self.settings), lambda data, t=t: load_target(t, data)) for t in found.targets]
        return self._locked(items, found.scopes, report, rebuild=rebuild, progress=progress, wait_seconds=wait_seconds)

    def index_documents(
        self, documents: Iterable[Document], *, scope: str | None = None, rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """Ingest prebuilt documents (by `source`); with `scope`, stored sources under it that are not given go."""
        items = []
        for document in documents:
            data = json.dumps([document.title, document.text, dict(document.meta)], ensure_ascii=False, default=str).encode()
            items.append(Item(document.source, lambda data=data: data, lambda _, document=document: document))
        return self._locked(items, (scope,) if scope else (), IngestReport(), rebuild=rebuild, progress=progress, wait_seconds=3600)

    def _locked(self, items: list[Item], scopes: Sequence[str], report: IngestReport, **options) -> IngestReport:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        lock = lock_index(self.settings, options.pop("wait_seconds"))
        try:
            self._run(items, tuple(scopes), report, **options)
        finally:
            lock.release()
        report.seconds = time.perf_counter() - started
        log.debug(report.summary())
        return report

    def _run(self, items: list[Item], scopes: tuple[str, ...], report: IngestReport, *, rebuild: bool, progress: bool) -> None:
        self._changing = False
        self._superseded: list[str] = []
        if rebuild:
            self._drop()
        store = VectorStore(self.settings, self.embedder.name, self.multilingual.name, create=True)
        stored = store.files()
        redo: set[str] = set()
        interrupted = store.interrupted()
        if interrupted:
            lacking = reconcile(store, {i for f in stored.values() for i in f.ids})
            redo = {source for source, f in stored.items() if f.ids & lacking}

        pending: list[tuple[Document, list[Chunk]]] = []
        seen: set[str] = set()
        bar = _progress(len(items), "files", progress)
        for item in items:
            seen.add(item.source)
            bar.update(1)
            started = time.perf_counter()
            try:
                data = item.read()
                digest = content_hash(data, self.settings)
                current = stored.get(item.source)
                if current is not None and current.complete and current.content_hash == digest and item.source not in redo:
                    report.unchanged.append(item.source)
                    continue
                document = with_language(item.load(data))
                chunks = self._chunk(document, digest)
            except IngestError as exc:
                report.failed.append((item.source, str(exc)))
                log.error("failed %s: %s", item.source, exc)
                continue
            except Exception as exc:  # a loader bug must not stop the run or lose stored data
                report.failed.append((item.source, f"unexpected {type(exc).__name__}: {exc}"))
                log.exception("failed %s", item.source)
                continue
            finally:
                report.spent("read", started)  # reading, hashing, loading and chunking
            pending.append((document, chunks))
            if sum(len(c) for _, c in pending) >= self.settings.ingest_batch_chunks:
                self._commit(store, pending, stored, report)
                pending = []
        bar.close()
        if pending:
            self._commit(store, pending, stored, report)

        # Old versions of updated files go only now, after every new chunk is in: a reader (which may hold an
        # older copy of the vectors) then sees each file's old or new version, never neither.
        started = time.perf_counter()
        delete(store, self._superseded)
        failed = {name for name, _ in report.failed}
        for source, info in stored.items():
            if source not in seen and source not in failed and in_scope(source, scopes):
                self._mark_changing(store)
                delete(store, sorted(info.ids))
                report.removed.append(source)
                report.chunks_removed += len(info.ids)
        report.spent("write", started)
        if report.added or report.updated or report.removed or rebuild or interrupted or not store.generation():
            started = time.perf_counter()
            generation = store.bump_generation(writing=False)
            cache_lexical(self.settings, store, generation)
            report.spent("lexical", started)

    def _mark_changing(self, store: VectorStore) -> None:
        """Change the generation before the first write too (marking the index open until the run ends), so
        that readers never keep a BM25 index that a crashed run left behind (the final bump may never happen)."""
        if not self._changing:
            store.bump_generation(writing=True)
            self._changing = True

    def _chunk(self, document: Document, digest: str) -> list[Chunk]:
        counter = getattr(self.embedder, "count_tokens", None)
        budget = self.embedder.passage_token_budget(document.title) if counter else 0  # type: ignore[attr-defined]
        return chunk_document(
            document, digest, self.settings.chunk_words, self.settings.chunk_overlap_words, budget, counter
        )

    def _commit(self, store: VectorStore, pending: list[tuple[Document, list[Chunk]]], stored: dict, report: IngestReport) -> None:
        """Embed a batch of files' chunks (one model call per space) and write them (one Chroma call per collection:
        each call costs ~20 ms however small, so writing file by file cost 15 % of an ingest). Crash safety is
        unchanged: side records go first, and a file counts as stored only when all of its chunks are."""
        batch = embed_chunks([c for _, chunks in pending for c in chunks], self.embedder, self.multilingual)
        for stage, seconds in batch.seconds.items():
            report.stage_seconds[stage] += seconds
        started = time.perf_counter()
        self._mark_changing(store)
        write(store, batch)
        report.spent("write", started)
        for document, chunks in pending:
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
        from rag.store import make_client

        client = make_client(self.settings)
        names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        for name in sorted(names & set(collection_names(self.settings.collection))):
            client.delete_collection(name)



def index_documents(
    documents: Iterable[Document],
    settings: Settings,
    embedder: Embedder | None = None,
    multilingual: Embedder | None = None,
    *,
    rebuild: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Ingest prebuilt documents into the index of `settings` (the public entry point for other programs)."""
    return Indexer(settings, embedder, multilingual).index_documents(documents, rebuild=rebuild, progress=progress)


class _NoBar:
    def update(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, unit: str, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled or total < 2:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, disable=not sys.stderr.isatty())
