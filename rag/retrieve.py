"""Hybrid retrieval: four candidate lists fused into one ranking of passages.

- `dense`: the English model's chunk vectors (Chroma);
- `multilingual`: the multilingual model's chunk vectors (a German question finds an English passage);
- `sentences`: the multilingual model's sentence vectors, each chunk scored by its best sentence;
- `lexical`: BM25 over the chunks' words.

Fusion is convex (weighted sum of per-query scaled scores, the default) or reciprocal-rank (see `rag.fusion`);
a list whose weight is 0 is not queried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from .errors import InvalidQuestion
from .exact import ExactIndex
from .fusion import convex, ranked, rrf
from .lexical import LexicalIndex, cache_folder, cache_key
from .query import Query, QueryEncoder
from .settings import Settings
from .spaces import chunk_of
from .store import VectorStore
from .types import Chunk, Passage

log = logging.getLogger(__name__)

FILTER_KEYS = ("source", "language")
_REFRESH_SECONDS = 1.0
# Sentences asked for per wanted chunk: chunks have ~7 sentences, and the best few of a chunk tend to come
# together, so 3 per chunk reach about as many distinct chunks as the other lists.
_SENTENCES_PER_CHUNK = 3
_SPARE = 3
# Chunks fetched since the index last changed, kept to skip Chroma's `get` (a third of a search's time) for
# passages asked about again; dropped whole when the index changes or when it holds this many.
_CHUNK_CACHE = 20_000


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate user filters ({"language": "de"}, {"source": ["a.md", "b.md"]})."""
    clean: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_KEYS:
            raise InvalidQuestion(f"unknown filter {key!r}: filters can be {', '.join(FILTER_KEYS)}")
        if isinstance(value, (list, tuple, set)):
            if not value or not all(isinstance(v, str) for v in value):
                raise InvalidQuestion(f"filter {key!r} needs a string or a non-empty list of strings")
            clean[key] = list(value)
        elif isinstance(value, str):
            clean[key] = value
        else:
            raise InvalidQuestion(f"filter {key!r} needs a string or a list of strings, not {type(value).__name__}")
    return clean


def chroma_where(filters: Mapping[str, Any]) -> dict[str, Any] | None:
    clauses = [{k: {"$in": v} if isinstance(v, list) else v} for k, v in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class HybridRetriever:
    """Dense + BM25 retrieval over one store; the BM25 side follows the store's generation marker."""

    def __init__(self, settings: Settings, encoder: QueryEncoder, store: VectorStore) -> None:
        self._settings = settings
        self._encoder = encoder
        self._store = store
        self._lexical: LexicalIndex | None = None
        self._generation = ""
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._chunks: dict[str, Chunk] = {}
        self._exact: dict[str, ExactIndex | None] = {}  # per list name, for this generation (rag/exact.py)

    # --- the lexical side ------------------------------------------------------------------------------------
    def lexical(self) -> LexicalIndex:
        now = time.monotonic()
        if self._lexical is not None and now - self._checked_at < _REFRESH_SECONDS:
            return self._lexical
        with self._lock:
            generation = self._store.generation()
            self._checked_at = time.monotonic()
            if self._lexical is None or generation != self._generation:
                if self._lexical is not None:  # another process changed the index: reload its vectors too
                    self._store.refresh()
                self._chunks = {}
                self._exact = {}
                self._lexical = self._load_lexical(generation)
                self._generation = generation
            return self._lexical

    def _load_lexical(self, generation: str) -> LexicalIndex:
        key = cache_key(self._store.location, self._settings.collection, generation)
        folder = cache_folder(self._settings.index_dir, self._settings.collection)
        cached = LexicalIndex.load(folder, key)
        if cached is not None and len(cached) == self._store.count():
            return cached
        started = time.perf_counter()
        index = LexicalIndex.build(self._store.iter_records())
        log.info("built BM25 over %d chunks in %.2fs", len(index), time.perf_counter() - started)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            index.save(folder, key)
        except OSError as exc:  # a read-only index folder still serves queries
            log.warning("could not cache the BM25 index in %s: %s", folder, exc)
        return index

    # --- retrieval -------------------------------------------------------------------------------------------
    def weights(self, cross: bool = False) -> dict[str, float]:
        """Each list's weight for a question and passage in a language of the English model (or, `cross`, any other pair)."""
        s = self._settings
        if cross:
            return {"dense": s.cross_dense_weight, "multilingual": s.cross_multilingual_weight,
                    "sentences": s.cross_sentence_weight, "lexical": s.cross_lexical_weight}
        return {"dense": s.dense_weight, "multilingual": s.multilingual_weight, "sentences": s.sentence_weight, "lexical": s.lexical_weight}

    def retrieve(self, query: str | Query, k: int | None = None, filters: Mapping[str, Any] | None = None) -> list[Passage]:
        """The top `k` passages; `query` is a question or a `Query` already encoded (then nothing is embedded)."""
        k = k or self._settings.top_k
        clean = check_filters(filters)
        if isinstance(query, str):
            query = self._encoder.encode(query)
        lists, cross = self.candidates(query, max(self._settings.candidates, k), clean)
        return self._fuse(lists, k, cross)

    def candidates(
        self, query: Query, n: int, filters: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, float]], set[str]]:
        """({list name: {chunk id: score}}, the ids of chunks in another language than the question) for `n`
        candidates per list. Lists come as ids and scores only; `_fuse` fetches the chunks it keeps."""
        same, other = self.weights(), self.weights(cross=True)
        wanted = {name for name in same if same[name] > 0 or other[name] > 0}
        where = chroma_where(filters or {})
        lexical = self.lexical()  # also notices another process's writes and reloads the vectors
        lists: dict[str, dict[str, float]] = {}
        if "dense" in wanted:
            lists["dense"] = dict(self._nearest("dense", self._store, query.dense, n, where))
        if "multilingual" in wanted:
            lists["multilingual"] = dict(self._nearest("multilingual", self._store.multilingual, query.multilingual, n, where))
        if "sentences" in wanted:
            # Sentences of one chunk crowd each other out: ask for a few per chunk, keep each chunk's best.
            best: dict[str, float] = {}
            found = self._nearest("sentences", self._store.sentences, query.multilingual, n * _SENTENCES_PER_CHUNK, where)
            for sentence, sim in found:
                chunk_id = chunk_of(sentence)
                if sim > best.get(chunk_id, -2.0):
                    best[chunk_id] = sim
            lists["sentences"] = best
        if "lexical" in wanted:
            lists["lexical"] = dict(lexical.search(query.text, n, filters or {}, query.language))
        ids = set().union(*(scores.keys() for scores in lists.values())) if lists else set()
        cross = {i for i in ids if self._other_weighting(query.language, lexical.language(i))}
        return lists, cross

    def _other_weighting(self, question: str, passage: str) -> bool:
        """Whether a passage takes the second weighting: its language is not the question's, or the shared language
        is one the English model does not read (its cosines between two German texts say little, and would
        outweigh an English passage's multilingual match for a German question). Unknown languages count as shared."""
        if not question:
            return False
        shared = passage in ("", question)
        return not shared or question not in self._settings.dense_languages

    def _nearest(self, name: str, space, vector, n: int, where) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
        """Exact search in memory when the collection is small and there is no filter, else Chroma's."""
        if where is None and self._settings.exact_search_max_vectors > 0:
            exact = self._exact
            if name not in exact:
                with self._lock:
                    if name not in exact:
                        exact[name] = space.exact(self._settings.exact_search_max_vectors)
            index = exact[name]
            if index is not None:
                return index.nearest(vector, n)
        return space.nearest(vector, n, where)

    def _fetch(self, ids: list[str]) -> dict[str, Chunk]:
        """The chunks of `ids` that the store holds, from the cache of this index generation when there."""
        cache = self._chunks
        missing = [i for i in ids if i not in cache]
        if missing:
            fetched = self._store.get(missing)
            if len(cache) + len(fetched) > _CHUNK_CACHE:
                cache.clear()
            cache.update(fetched)
        return {i: cache[i] for i in ids if i in cache}

    def _fuse(self, lists: Mapping[str, Mapping[str, float]], k: int, cross: set[str] | None = None) -> list[Passage]:
        s = self._settings
        weights, cross_weights = self.weights(), self.weights(cross=True)
        if s.fusion == "convex":
            fused = convex(lists, weights, cross_weights=cross_weights, cross=cross or ())
        else:
            fused = rrf({name: list(scores) for name, scores in lists.items()}, weights, s.rrf_k)  # dicts keep rank order
        # A few more than k: an id another process deleted since our vectors loaded is left out by `get`.
        best = ranked(fused)[: k + _SPARE]
        chunks = self._fetch(best)
        passages: list[Passage] = []
        for chunk_id in best:
            if chunk_id not in chunks:  # deleted by a concurrent ingest
                continue
            if len(passages) == k:
                break
            passages.append(
                Passage(
                    chunk=chunks[chunk_id],
                    score=fused[chunk_id],
                    rank=len(passages) + 1,
                    dense_score=lists.get("dense", {}).get(chunk_id),
                    lexical_score=lists.get("lexical", {}).get(chunk_id),
                    scores={name: scores[chunk_id] for name, scores in lists.items() if chunk_id in scores},
                )
            )
        return passages
