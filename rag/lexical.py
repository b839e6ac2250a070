"""BM25 over the chunks in the vector store, rebuilt from the store so the two never disagree."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from .text import TOKENIZER_VERSION, lexical_tokens

log = logging.getLogger(__name__)


def lexical_text(title: str, text: str, context: str = "") -> str:
    """What BM25 indexes for a chunk: its title, the context it carries (a table's header row), its text."""
    return "\n".join(part for part in (title, context, text) if part)


def _context(meta: Mapping[str, Any]) -> str:
    """The table header a chunk inside a table's body carries (`ingest.chunk`), stored as a chunk's extra meta."""
    if meta.get("table_header"):
        return str(meta["table_header"])
    extra = meta.get("extra_json")
    if isinstance(extra, str) and "table_header" in extra:
        try:
            return str(json.loads(extra).get("table_header") or "")
        except ValueError:
            return ""
    return ""


class LexicalIndex:
    """BM25 scores for every chunk id, plus the metadata needed to filter hits by source or language."""

    def __init__(self, ids: list[str], model: bm25s.BM25 | None, facets: list[dict[str, str]]) -> None:
        self.ids = ids
        self._model = model
        self._facets = facets
        self.languages = sorted({f.get("language", "") for f in facets})
        self._language = {i: f.get("language", "") for i, f in zip(ids, facets)}
        self._chunks_by_language = Counter(lang for lang in self._language.values() if lang)

    def share(self, language: str) -> float:
        """The share of indexed chunks in `language` (1.0 when the question's or the chunks' language is unknown:
        then nothing says the corpus speaks another language)."""
        known = sum(self._chunks_by_language.values())
        if not language or not known:
            return 1.0
        return self._chunks_by_language[language] / known

    def language(self, chunk_id: str) -> str:
        """The language of an indexed chunk ("" when unknown)."""
        return self._language.get(chunk_id, "")

    @classmethod
    def build(cls, records: Iterable[tuple[str, str, Mapping[str, Any]]]) -> LexicalIndex:
        ids: list[str] = []
        corpus: list[list[str]] = []
        facets: list[dict[str, str]] = []
        for chunk_id, text, meta in records:
            ids.append(chunk_id)
            language = str(meta.get("language") or "")
            indexed = lexical_text(str(meta.get("title", "")), text, _context(meta))
            corpus.append(lexical_tokens(indexed, language) or ["\u2205"])
            facets.append({k: str(meta[k]) for k in ("source", "language") if k in meta})
        if not ids:
            return cls([], None, [])
        model = bm25s.BM25()
        model.index(corpus, show_progress=False)
        return cls(ids, model, facets)

    def __len__(self) -> int:
        return len(self.ids)

    def knows(self, token: str) -> bool:
        """True when some indexed chunk contains this (stemmed) token."""
        return self._model is not None and token in self._model.vocab_dict

    def idf(self, token: str) -> float:
        """Inverse document frequency of a stemmed token; a token no chunk contains gets the highest value."""
        n = len(self.ids)
        df = 0
        if self._model is not None and token in self._model.vocab_dict:
            indptr = self._model.scores["indptr"]
            position = self._model.vocab_dict[token]
            df = int(indptr[position + 1] - indptr[position])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def query_tokens(self, query: str, language: str = "") -> list[str]:
        """The query's tokens stemmed as its own language and as each language of the index: a question whose
        language was misdetected, or that names things in the corpus' language, still meets the chunks' stems."""
        tokens: dict[str, None] = {}
        for lang in dict.fromkeys([language, *self.languages]):
            tokens.update(dict.fromkeys(lexical_tokens(query, lang)))
        return list(tokens)

    def search(self, query: str, n: int, where: Mapping[str, Any] | None = None, language: str = "") -> list[tuple[str, float]]:
        """The top `n` (chunk id, BM25 score) pairs with a positive score; `language`: the query's."""
        tokens = self.query_tokens(query, language)
        if self._model is None or not tokens or n <= 0:
            return []
        scores = np.asarray(self._model.get_scores(tokens), dtype=np.float32)
        if where:
            mask = np.array([_matches(f, where) for f in self._facets], dtype=bool)
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    # --- on-disk cache (keyed by the store's generation marker) ----------------------------------------------
    def save(self, folder: Path, key: str) -> None:
        if self._model is None:
            return
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self._model.save(str(tmp))
        (tmp / "ids.json").write_text(json.dumps({"key": key, "ids": self.ids, "facets": self._facets}))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, key: str) -> LexicalIndex | None:
        try:
            data = json.loads((folder / "ids.json").read_text())
            if data.get("key") != key:
                return None
            model = bm25s.BM25.load(str(folder))
        except (OSError, ValueError, KeyError):
            return None
        return cls(data["ids"], model, data["facets"])


def _matches(facets: Mapping[str, str], where: Mapping[str, Any]) -> bool:
    for key, wanted in where.items():
        value = facets.get(key)
        if isinstance(wanted, (list, tuple, set)):
            if value not in {str(w) for w in wanted}:
                return False
        elif value != str(wanted):
            return False
    return True


def cache_folder(index_dir: Path, collection: str) -> Path:
    """Where the BM25 index of `collection` is cached beside the vector index."""
    return index_dir / "lexical" / collection


def cache_key(location: str, collection: str, generation: str) -> str:
    return hashlib.sha1(f"{location}|{collection}|{generation}|{TOKENIZER_VERSION}".encode()).hexdigest()[:16]
