"""Embedding chunks into every vector space and writing them in the order that keeps the index crash-safe.

Per chunk: the English model's vector (main collection, with text and metadata), the multilingual model's
vector (`-ml`), and one multilingual vector per sentence (`-sentences`). Side records are written before the
chunk that owns them and deleted before it, so the main collection (the manifest) never lists a chunk whose
new vectors are missing; leftovers of an interrupted run are swept by `reconcile`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.embedder import Embedder
from rag.language_offsets import language_offsets
from rag.lexical import LexicalIndex, cache_folder, cache_key
from rag.settings import Settings
from rag.spaces import sentence_id
from rag.store import VectorStore
from rag.text import sentence_spans
from rag.types import Chunk

log = logging.getLogger(__name__)


def embedding_text(chunk: Chunk) -> str:
    """What a chunk is embedded as: its title line gives it context (which document, which topic), and a chunk
    inside a table's body its table's header (which column is which; `ingest.chunk`)."""
    text = f"{chunk.meta['table_header']}\n{chunk.text}" if chunk.meta.get("table_header") else chunk.text
    return f"{chunk.title}\n{text}" if chunk.title and not chunk.text.lstrip("# ").startswith(chunk.title) else text


def _language(chunk: Chunk) -> str:
    return str(chunk.meta.get("language") or "")


def _facets(chunk: Chunk) -> dict[str, str]:
    """The metadata side records carry: their chunk, and what retrieval filters on."""
    meta = {"chunk_id": chunk.id, "source": chunk.source}
    if _language(chunk):
        meta["language"] = _language(chunk)
    return meta


@dataclass(frozen=True)
class Embedded:
    """A batch of chunks with their vectors in both spaces and their sentences' vectors."""

    chunks: tuple[Chunk, ...]
    dense: np.ndarray
    multilingual: np.ndarray
    sentence_ids: tuple[str, ...]
    sentence_meta: tuple[dict[str, object], ...]
    sentence_vectors: np.ndarray
    seconds: Mapping[str, float] = field(default_factory=dict)  # time each model call took (see `STAGES`)


# What an ingest spends its time on, as `IngestReport.stage_seconds` names it.
STAGES = ("read", "embed_passages", "embed_passages_multilingual", "embed_sentences_multilingual", "write", "lexical")


def embed_chunks(chunks: Sequence[Chunk], embedder: Embedder, multilingual: Embedder) -> Embedded:
    """One model call per space for the whole batch; a sentence repeated in overlapping chunks is embedded once."""
    seconds: dict[str, float] = {}

    def timed(stage: str, model: Embedder, inputs: list[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = model.embed_documents(inputs) if inputs else np.zeros((0, 0), dtype=np.float32)
        seconds[stage] = time.perf_counter() - started
        return vectors

    texts = [embedding_text(c) for c in chunks]
    ids: list[str] = []
    meta: list[dict[str, object]] = []
    sentences: list[str] = []
    for chunk in chunks:
        for i, (a, b) in enumerate(sentence_spans(chunk.text)):
            ids.append(sentence_id(chunk.id, i))
            meta.append({**_facets(chunk), "start": chunk.start + a, "end": chunk.start + b})
            sentences.append(chunk.text[a:b])
    unique = list(dict.fromkeys(sentences))
    unique_vectors = timed("embed_sentences_multilingual", multilingual, unique)
    row = {text: i for i, text in enumerate(unique)}
    sentence_vectors = unique_vectors[[row[s] for s in sentences]] if sentences else np.zeros((0, 0), dtype=np.float32)
    # Stored without what each text's language alone adds (rag/language_offsets.py), so that a question meets
    # passages in every language on their content.
    offsets = language_offsets(multilingual.name)
    sentence_vectors = offsets.passages(sentence_vectors, [str(m.get("language") or "") for m in meta])
    dense = timed("embed_passages", embedder, texts)
    multilingual_vectors = offsets.passages(timed("embed_passages_multilingual", multilingual, texts), [_language(c) for c in chunks])
    return Embedded(tuple(chunks), dense, multilingual_vectors, tuple(ids), tuple(meta), sentence_vectors, seconds)


def write(store: VectorStore, batch: Embedded) -> None:
    """Write the batch: its side records first, then the chunks themselves (one Chroma call per collection)."""
    if not batch.chunks:
        return
    if batch.sentence_ids:
        store.sentences.upsert(list(batch.sentence_ids), batch.sentence_vectors, list(batch.sentence_meta))
    store.multilingual.upsert([c.id for c in batch.chunks], batch.multilingual, [_facets(c) for c in batch.chunks])
    store.upsert(batch.chunks, batch.dense)


def delete(store: VectorStore, chunk_ids: Sequence[str]) -> None:
    """Remove chunks: their side records first, then the chunks (the manifest) last."""
    if not chunk_ids:
        return
    store.sentences.delete_chunks(chunk_ids)
    store.multilingual.delete(chunk_ids)
    store.delete(chunk_ids)


def reconcile(store: VectorStore, chunk_ids: set[str]) -> set[str]:
    """After an interrupted run: delete side records whose chunk is gone; return chunks missing side records."""
    ml_ids = store.multilingual.ids()
    sentence_chunks: dict[str, list[str]] = {}
    for i in store.sentences.ids():
        sentence_chunks.setdefault(i.rsplit(":", 1)[0], []).append(i)
    orphans = [i for i in ml_ids if i not in chunk_ids]
    orphan_sentences = [s for c, ids in sentence_chunks.items() if c not in chunk_ids for s in ids]
    if orphans or orphan_sentences:
        log.info("removing %d multilingual and %d sentence vectors left by an interrupted ingest", len(orphans), len(orphan_sentences))
        store.multilingual.delete(orphans)
        store.sentences.delete(orphan_sentences)
    return {i for i in chunk_ids if i not in ml_ids or i not in sentence_chunks}


def cache_lexical(settings: Settings, store: VectorStore, generation: str) -> None:
    """BM25 rebuilt from the store and saved under this generation, so readers load it instead of rebuilding."""
    folder = cache_folder(settings.index_dir, settings.collection)
    folder.parent.mkdir(parents=True, exist_ok=True)
    LexicalIndex.build(store.iter_records()).save(folder, cache_key(store.location, settings.collection, generation))
