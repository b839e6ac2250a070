"""The app's ingester (`rag.uploads.Ingester`): one uploaded file through the same run as `python -m ingest FILE`.

Each file is its own `Indexer.run`, so it is committed (and seen by the chat) as soon as it is done, and a file
that fails leaves the index as it was. A file whose content is already indexed under another name is reported
as a duplicate and not indexed twice. Removal takes the index lock like an ingest run and deletes in the same
crash-safe order (side records first, the chunks last, the BM25 index rebuilt for the new generation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.embedder import Embedder, SentenceTransformerEmbedder
from rag.multilingual import build_multilingual
from rag.settings import Settings
from rag.store import VectorStore
from rag.uploads import FileOutcome, Stage

from .index import Indexer, lock_index
from .items import content_hash
from .load import LOADERS
from .write import cache_lexical, delete

log = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 3600  # behind a `python -m ingest` run that holds the index, an upload waits its turn


class _Signalling:
    """An embedder that reports the first call (the file's chunks are being embedded)."""

    def __init__(self, inner: Embedder, started: Callable[[], None]) -> None:
        self._inner = inner
        self._started = started
        self.name = inner.name

    def embed_documents(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        self._started()
        return self._inner.embed_documents(texts)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)


class FileIngester:
    """Uploaded files into the index of `settings`, with the models the app already holds."""

    suffixes = tuple(sorted(LOADERS))

    def __init__(self, settings: Settings, embedder: Embedder | None = None, multilingual: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(settings)
        self.multilingual = multilingual or build_multilingual(settings)

    def _store(self) -> VectorStore:
        return VectorStore(self.settings, self.embedder.name, self.multilingual.name, create=True)

    def ingest_file(self, path: Path, stage: Callable[[Stage], None]) -> FileOutcome:
        """Ingest one file under its file name as source."""
        stage("reading")
        source = path.name
        try:
            digest = content_hash(path.read_bytes(), self.settings)
        except OSError as exc:
            return FileOutcome("failed", "failed", f"cannot read the uploaded file ({exc.strerror or exc})")
        same = sorted(s for s, f in self._store().files().items() if f.complete and f.content_hash == digest)
        if same and source not in same:
            return FileOutcome("done", "duplicate", f"already indexed as {same[0]!r}: not indexed twice", same[0])
        announced = False

        def embedding() -> None:
            nonlocal announced
            if not announced:
                announced = True
                stage("embedding")

        indexer = Indexer(self.settings, _Signalling(self.embedder, embedding), _Signalling(self.multilingual, embedding))  # type: ignore[arg-type]
        report = indexer.run([str(path)], wait_seconds=LOCK_WAIT_SECONDS)
        refused = report.failed + report.skipped
        if refused:
            return FileOutcome("failed", "failed", f"{source}: {refused[0][1]}")
        if report.unchanged:
            return FileOutcome("done", "unchanged", "already indexed with the same content: nothing changed", source)
        passages = report.chunks_added
        if report.updated:
            return FileOutcome("done", "updated", f"replaced the earlier version of {source} ({passages} new passages)", source)
        if report.added:
            return FileOutcome("done", "added", f"indexed: {passages} passages", source)
        return FileOutcome("failed", "failed", f"{source}: the ingest run reported nothing for this file")

    def remove(self, source: str) -> int:
        """Remove every chunk of `source` and its vectors; rebuild BM25 without them. The chunks removed."""
        lock = lock_index(self.settings, LOCK_WAIT_SECONDS)
        try:
            store = self._store()
            stored = store.files().get(source)
            if stored is None:
                return 0
            store.bump_generation(writing=True)  # open: a crash midway is swept by the next ingest run
            delete(store, sorted(stored.ids))
            generation = store.bump_generation(writing=False)
            cache_lexical(self.settings, store, generation)
        finally:
            lock.release()
        log.info("removed %s: %d chunks", source, len(stored.ids))
        return len(stored.ids)
