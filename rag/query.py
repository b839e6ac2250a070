"""A question made ready for retrieval and answering: its text, its language and its vector in each space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embedder import Embedder
from .language import detect_language


@dataclass(frozen=True, eq=False)
class Query:
    """`text` is what is searched for (a follow-up's standalone form); `language` is the asker's (detected once)."""

    text: str
    language: str
    dense: np.ndarray  # the English model's vector
    multilingual: np.ndarray  # the multilingual model's vector


class QueryEncoder:
    """Embeds a question in both vector spaces."""

    def __init__(self, embedder: Embedder, multilingual: Embedder) -> None:
        self.embedder = embedder
        self.multilingual = multilingual

    def encode(self, text: str, language: str | None = None) -> Query:
        """`language`: the asker's language when `text` is a rewrite that mixes in earlier turns."""
        lang = detect_language(text) if language is None else language
        return Query(text, lang, self.embedder.embed_query(text), self.multilingual.embed_query(text))
