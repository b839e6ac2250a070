"""A question made ready for retrieval and answering: its text, its language and its vector in each space."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .batching import MicroBatcher
from .embedder import Embedder
from .language import detect_language
from .language_offsets import language_offsets


@dataclass(frozen=True, eq=False)
class Query:
    """`text` is what is searched for (a follow-up's standalone form); `language` is the asker's (detected once)."""

    text: str
    language: str
    dense: np.ndarray  # the English model's vector
    multilingual: np.ndarray  # the multilingual model's vector


class QueryEncoder:
    """Embeds a question in both vector spaces. With `max_batch` > 1, questions asked at the same time from
    several threads are embedded together, one call per model (rag/batching.py); else each on its own. With
    `parallel`, the two models run at the same time (ONNX Runtime and numpy release the GIL: 14 -> 10 ms for
    one question here when a core is free; no cost when none is)."""

    def __init__(
        self, embedder: Embedder, multilingual: Embedder, *, max_batch: int = 1, max_wait_ms: float = 0.0, parallel: bool = False
    ) -> None:
        self.embedder = embedder
        self.multilingual = multilingual
        self._offsets = language_offsets(multilingual.name)
        self.batcher = MicroBatcher(self._embed, max_batch, max_wait_ms, name="query-batcher") if max_batch > 1 else None
        self._side = ThreadPoolExecutor(1, thread_name_prefix="multilingual-query") if parallel else None

    def encode(self, text: str, language: str | None = None) -> Query:
        """`language`: the asker's language when `text` is a rewrite that mixes in earlier turns."""
        lang = detect_language(text) if language is None else language
        dense, multilingual = self.batcher.submit(text) if self.batcher else self._embed([text])[0]
        # the vector without what the question's language alone adds (rag/language_offsets.py)
        return Query(text, lang, dense, self._offsets.queries(multilingual[None, :], [lang])[0])

    def _embed(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._side is None:
            return list(zip(self.embedder.embed_queries(texts), self.multilingual.embed_queries(texts)))
        multilingual = self._side.submit(self.multilingual.embed_queries, texts)
        dense = self.embedder.embed_queries(texts)
        return list(zip(dense, multilingual.result()))
