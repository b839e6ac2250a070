"""Side collections of vectors that belong to the chunks of the main collection (no documents of their own).

- `{collection}-ml`: one multilingual vector per chunk (same id as the chunk), for cross-lingual retrieval;
- `{collection}-sentences`: one multilingual vector per sentence of each chunk (id `{chunk id}:{i}`, metadata:
  the chunk id and the sentence's offsets in the document), computed once at ingest so that answering reads
  them instead of embedding sentences per question.

The main collection stays the manifest: ingest writes side records before the chunk that owns them and deletes
them before it, and readers skip side ids whose chunk is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError, EmptyIndex
from .exact import ExactIndex, load_exact

_BATCH = 5000
MULTILINGUAL_SUFFIX = "-ml"
SENTENCES_SUFFIX = "-sentences"


def sentence_id(chunk_id: str, i: int) -> str:
    return f"{chunk_id}:{i}"


def chunk_of(sentence: str) -> str:
    """The chunk id inside a sentence id."""
    return sentence.rsplit(":", 1)[0]


@dataclass(frozen=True)
class StoredSentences:
    """Sentence vectors of some chunks: row i is the sentence `ids[i]` of chunk `chunk_ids[i]`."""

    ids: tuple[str, ...]
    chunk_ids: tuple[str, ...]
    starts: tuple[int, ...]  # offsets into the document text
    ends: tuple[int, ...]
    vectors: np.ndarray


def nearest(collection, vector: np.ndarray, n: int, where: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    """The `n` nearest ids of a cosine collection with their similarity, best first. Ids and distances only:
    fetching documents or metadata costs Chroma about four times the search itself. Chroma 1.x returns fewer
    than `n` when the collection holds fewer (no `count()` first: that cost as much as a third of the search)."""
    if n <= 0:
        return []
    result = collection.query(
        query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
        n_results=n,
        where=dict(where) if where else None,
        include=["distances"],
    )
    return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]


class VectorSpace:
    """One Chroma collection of vectors keyed by id, built with one model (refuses vectors of another)."""

    def __init__(self, client, name: str, model_name: str, location: str, *, create: bool) -> None:  # type: ignore[no-untyped-def]
        self.name = name
        self._model_name = model_name
        existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if name not in existing:
            if not create:
                raise EmptyIndex(
                    f"the index at {location} has no '{name}' collection (it was built by an older version): "
                    "rebuild it with `python -m ingest --rebuild corpus/`"
                )
            self._collection = client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}, metadata={"embedding_model": model_name}
            )
            return
        self._collection = client.get_collection(name, embedding_function=None)
        built_with = (self._collection.metadata or {}).get("embedding_model")
        if built_with and built_with != model_name:
            raise ConfigError(
                f"the '{name}' vectors at {location} were made with '{built_with}', but the settings ask for "
                f"'{model_name}': re-ingest with `python -m ingest --rebuild corpus/` or set RAG_MULTILINGUAL_MODEL back"
            )

    def count(self) -> int:
        return int(self._collection.count())

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[Mapping[str, Any]]) -> None:
        for i in range(0, len(ids), _BATCH):
            self._collection.upsert(
                ids=list(ids[i : i + _BATCH]),
                embeddings=np.asarray(vectors[i : i + _BATCH], dtype=np.float32),
                metadatas=[dict(m) for m in metadatas[i : i + _BATCH]],
            )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), _BATCH):
            self._collection.delete(ids=ids[i : i + _BATCH])

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Delete the records that belong to these chunks (sentence records carry their chunk's id)."""
        chunk_ids = list(chunk_ids)
        for i in range(0, len(chunk_ids), 500):
            self._collection.delete(where={"chunk_id": {"$in": chunk_ids[i : i + 500]}})

    def nearest(self, vector: np.ndarray, n: int, where: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
        """The `n` nearest (id, cosine), best first."""
        return nearest(self._collection, vector, n, where)

    def exact(self, limit: int) -> ExactIndex | None:
        """All vectors in memory for exact search, or None past `limit` (rag/exact.py)."""
        return load_exact(self._collection, limit)

    def sentences(self, ids: Sequence[str]) -> StoredSentences:
        """Stored sentence vectors for `ids` (missing ids are left out), in the order asked."""
        if not ids:
            return StoredSentences((), (), (), (), np.zeros((0, 0), dtype=np.float32))
        result = self._collection.get(ids=list(ids), include=["embeddings", "metadatas"])
        found = {i: (e, m) for i, e, m in zip(result["ids"], result["embeddings"], result["metadatas"]) if m}
        kept = [i for i in ids if i in found]
        vectors = np.asarray([found[i][0] for i in kept], dtype=np.float32) if kept else np.zeros((0, 0), dtype=np.float32)
        return StoredSentences(
            tuple(kept),
            tuple(str(found[i][1]["chunk_id"]) for i in kept),
            tuple(int(found[i][1]["start"]) for i in kept),
            tuple(int(found[i][1]["end"]) for i in kept),
            vectors,
        )

    def ids(self) -> set[str]:
        """Every id in the collection (for reconciling after an interrupted ingest)."""
        found: set[str] = set()
        offset = 0
        while True:
            batch = self._collection.get(include=[], limit=_BATCH, offset=offset)
            if not batch["ids"]:
                return found
            found.update(batch["ids"])
            offset += len(batch["ids"])
