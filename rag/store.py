"""The vector store: one Chroma collection (embedded or on a server) holding chunks, vectors and metadata.

Chroma is the single source of truth for what is indexed: every chunk carries its file's content hash and
the number of chunks that version of the file has, so a file is complete exactly when all of them are present.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .errors import ConfigError, EmptyIndex
from .exact import ExactIndex, load_exact
from .multilingual import MODEL_NAMES
from .settings import Settings
from .spaces import MULTILINGUAL_SUFFIX, SENTENCES_SUFFIX, VectorSpace, nearest
from .types import Chunk, Source

log = logging.getLogger(__name__)

_SCALAR_META = ("url", "date", "language", "topic", "page", "kind", "note")
_GET_BATCH = 2000


@dataclass(frozen=True)
class StoredFile:
    """What the index holds for one source: its content hash(es) and chunk ids."""

    source: str
    hashes: frozenset[str]
    expected_chunks: int
    ids: frozenset[str]

    @property
    def complete(self) -> bool:
        return len(self.hashes) == 1 and len(self.ids) == self.expected_chunks

    @property
    def content_hash(self) -> str | None:
        return next(iter(self.hashes)) if len(self.hashes) == 1 else None


def collection_names(collection: str) -> tuple[str, str, str]:
    """The chunks' collection and its side collections (multilingual chunk vectors, sentence vectors)."""
    return collection, collection + MULTILINGUAL_SUFFIX, collection + SENTENCES_SUFFIX


def make_client(settings: Settings, fresh: bool = False):  # type: ignore[no-untyped-def]
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises bare ValueError/ConnectionError here
            raise ConfigError(f"cannot reach the Chroma server at {settings.chroma_url} ({exc}): start it or fix RAG_CHROMA_URL") from exc
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    if fresh:
        _forget_embedded_system(str(path), chroma_settings)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _forget_embedded_system(path: str, chroma_settings) -> None:  # type: ignore[no-untyped-def]
    """Make the next PersistentClient for `path` load the index from disk anew.

    An embedded Chroma keeps its vector index in memory per process, so it does not see vectors that another
    process (an ingest) wrote since it opened. Chroma shares one "system" per path inside a process; dropping
    ours from that cache makes the next client reload the index (and replay the write-ahead log). Clients
    that already exist keep working on their own copy.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    chroma_settings.persist_directory = path
    chroma_settings.is_persistent = True
    identifier = SharedSystemClient._get_identifier_from_settings(chroma_settings)
    SharedSystemClient._identifier_to_system.pop(identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(identifier, None)


def chunk_to_record(chunk: Chunk) -> tuple[str, str, dict[str, Any]]:
    meta: dict[str, Any] = {"source": chunk.source, "title": chunk.title, "start": chunk.start, "end": chunk.end}
    extra: dict[str, Any] = {}
    for key, value in chunk.meta.items():
        if key == "sources":
            extra["sources"] = [s.__dict__ for s in value]
        elif key in _SCALAR_META or key in ("doc_hash", "n_chunks", "position", "n_sentences"):
            if value is not None:
                meta[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        else:
            extra[key] = value
    if extra:
        meta["extra_json"] = json.dumps(extra, ensure_ascii=False, default=str)
    return chunk.id, chunk.text, meta


def record_to_chunk(chunk_id: str, text: str, meta: Mapping[str, Any]) -> Chunk:
    chunk_meta: dict[str, Any] = {k: v for k, v in meta.items() if k not in ("source", "title", "start", "end", "extra_json")}
    if meta.get("extra_json"):
        extra = json.loads(meta["extra_json"])
        if "sources" in extra:
            extra["sources"] = tuple(Source(**s) for s in extra["sources"])
        chunk_meta.update(extra)
    return Chunk(
        id=chunk_id,
        source=str(meta["source"]),
        title=str(meta.get("title", "")),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        meta=chunk_meta,
    )


class VectorStore:
    """Chunks with their vectors in one Chroma collection, plus the multilingual side collections (`spaces`)."""

    def __init__(self, settings: Settings, model_name: str, multilingual_model: str | None = None, *, create: bool = False) -> None:
        self._settings = settings
        self._model_name = model_name
        self._multilingual_model = multilingual_model or MODEL_NAMES[settings.multilingual_model]
        if not create and not settings.chroma_url and not (settings.index_dir / "chroma").is_dir():
            raise EmptyIndex(
                f"no index at {settings.index_dir}: build it with `python -m ingest corpus/` "
                "(or run the README's run command, which ingests on first start)"
            )
        self._client = make_client(settings)
        self.location = settings.chroma_url or str(settings.index_dir / "chroma")
        self._collection = self._open(create)
        self._open_spaces(create)

    def _open_spaces(self, create: bool) -> None:
        _, multilingual, sentences = collection_names(self._settings.collection)
        self.multilingual = VectorSpace(self._client, multilingual, self._multilingual_model, self.location, create=create)
        self.sentences = VectorSpace(self._client, sentences, self._multilingual_model, self.location, create=create)

    def _open(self, create: bool):  # type: ignore[no-untyped-def]
        name = self._settings.collection
        existing = {c if isinstance(c, str) else c.name for c in self._client.list_collections()}
        if name not in existing:
            if not create:
                raise EmptyIndex(
                    f"no index '{name}' at {self.location}: build it with `python -m ingest corpus/` "
                    "(or run the README's run command, which ingests on first start)"
                )
            log.info("creating collection %s at %s", name, self.location)
            return self._client.get_or_create_collection(
                name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": self._model_name, "generation": uuid.uuid4().hex},
            )
        collection = self._client.get_collection(name, embedding_function=None)
        built_with = (collection.metadata or {}).get("embedding_model")
        if built_with and built_with != self._model_name:
            raise ConfigError(
                f"the index at {self.location} was built with embedding model '{built_with}', but the settings "
                f"ask for '{self._model_name}': re-ingest with `python -m ingest --rebuild corpus/` "
                "or set RAG_EMBEDDING_MODEL back"
            )
        return collection

    def refresh(self) -> None:
        """Reload an embedded index from disk, to see what other processes wrote (a server needs nothing)."""
        if self._settings.chroma_url:
            return
        self._client = make_client(self._settings, fresh=True)
        self._collection = self._open(create=False)
        self._open_spaces(create=False)
        log.info("reloaded the embedded index at %s", self.location)

    # --- reading -------------------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._collection.count())

    def generation(self) -> str:
        """A marker that changes whenever an ingest commits a change (read fresh from the store)."""
        collection = self._client.get_collection(self._settings.collection, embedding_function=None)
        return str((collection.metadata or {}).get("generation", ""))

    def nearest(self, embedding: np.ndarray, n: int, where: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
        """The `n` nearest chunk ids with their cosine, best first (no documents or metadata).

        An embedded store's in-memory index can be older than its records (another process wrote since): ids
        deleted there still come back here, and `get` leaves them out."""
        return nearest(self._collection, embedding, n, where)

    def exact(self, limit: int) -> ExactIndex | None:
        """All chunk vectors in memory for exact search, or None past `limit` (rag/exact.py)."""
        return load_exact(self._collection, limit)

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        if not ids:
            return {}
        result = self._collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {i: record_to_chunk(i, d, m) for i, d, m in zip(result["ids"], result["documents"], result["metadatas"]) if d is not None and m}

    def iter_records(self, include_documents: bool = True) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """Every (id, text, metadata) in the collection, in batches."""
        include = ["documents", "metadatas"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            batch = self._collection.get(include=include, limit=_GET_BATCH, offset=offset)
            if not batch["ids"]:
                return
            docs = batch["documents"] if include_documents else [""] * len(batch["ids"])
            yield from zip(batch["ids"], docs, batch["metadatas"])
            offset += len(batch["ids"])

    def files(self) -> dict[str, StoredFile]:
        hashes: dict[str, set[str]] = defaultdict(set)
        ids: dict[str, set[str]] = defaultdict(set)
        expected: dict[str, int] = {}
        for chunk_id, _, meta in self.iter_records(include_documents=False):
            source = str(meta["source"])
            hashes[source].add(str(meta.get("doc_hash", "")))
            ids[source].add(chunk_id)
            expected[source] = int(meta.get("n_chunks", -1))
        return {
            s: StoredFile(s, frozenset(hashes[s]), expected[s], frozenset(ids[s])) for s in hashes
        }

    # --- writing -------------------------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        if not chunks:
            return
        records = [chunk_to_record(c) for c in chunks]
        max_batch = 5000
        for i in range(0, len(records), max_batch):
            part = records[i : i + max_batch]
            self._collection.upsert(
                ids=[r[0] for r in part],
                documents=[r[1] for r in part],
                metadatas=[r[2] for r in part],
                embeddings=np.asarray(embeddings[i : i + max_batch], dtype=np.float32),
            )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self._collection.delete(ids=ids[i : i + 5000])

    def interrupted(self) -> bool:
        """True when the last ingest began writing and never finished (killed, crashed)."""
        collection = self._client.get_collection(self._settings.collection, embedding_function=None)
        return bool((collection.metadata or {}).get("ingest_open"))

    def bump_generation(self, writing: bool = False) -> str:
        """A new generation marker; `writing` marks the index open until a later bump without it."""
        generation = uuid.uuid4().hex
        meta = dict(self._collection.metadata or {})
        meta.update({"embedding_model": self._model_name, "generation": generation, "ingest_open": writing})
        meta.pop("hnsw:space", None)
        self._collection.modify(metadata=meta)
        return generation

    def drop(self) -> None:
        """Delete the whole collection and its side collections (for `--rebuild`)."""
        for name in collection_names(self._settings.collection):
            self._client.delete_collection(name)
