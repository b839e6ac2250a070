"""The multilingual model's language offsets: what a text's language alone adds to its vector.

multilingual-e5 places a German question nearer to every German sentence than to the English sentence that
answers it: each vector carries a component that says which language the text is in. On a corpus with one
German article among English ones, that component made the German article the top passage for every German
question. The component is close to a constant per language, so it is measured once, on parallel text (the
same questions and paragraphs in English and in another language: the mean vector in that language minus the
mean in English), and removed from every vector before it is stored or searched (then normalised again).

Measured on XQuAD's train split (bench/language_offsets.py writes rag/language_offsets.json); on its report
split, never used here, a German question's top sentence among English and German sentences of other articles
held the answer for 69 % of questions instead of 60 %, a Russian one for 64 % instead of 43 %. English is the
reference (no offset); a language without parallel data (Kazakh, say) keeps its vectors as they are.

Questions and passages get their own offsets (e5 embeds them with different prefixes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).with_name("language_offsets.json")


@dataclass(frozen=True)
class LanguageOffsets:
    """Per-language offset vectors of one model's space, for questions and for passages."""

    query: Mapping[str, np.ndarray] = field(default_factory=dict)
    passage: Mapping[str, np.ndarray] = field(default_factory=dict)

    def queries(self, vectors: np.ndarray, languages: Sequence[str]) -> np.ndarray:
        return _remove(vectors, languages, self.query)

    def passages(self, vectors: np.ndarray, languages: Sequence[str]) -> np.ndarray:
        return _remove(vectors, languages, self.passage)


def _remove(vectors: np.ndarray, languages: Sequence[str], offsets: Mapping[str, np.ndarray]) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if not offsets or not len(vectors) or not any(language in offsets for language in languages):
        return vectors
    out = vectors.copy()
    for row, language in enumerate(languages):
        offset = offsets.get(language)
        if offset is not None:
            shifted = out[row] - offset
            out[row] = shifted / max(float(np.linalg.norm(shifted)), 1e-12)
    return out


@lru_cache(maxsize=8)
def language_offsets(model: str, path: Path = DEFAULT_PATH) -> LanguageOffsets:
    """The offsets stored for the space `model` names (none: vectors stay as they are)."""
    if not path.exists():
        return LanguageOffsets()
    entry = json.loads(path.read_text(encoding="utf-8")).get("models", {}).get(model)
    if not entry:
        return LanguageOffsets()
    return LanguageOffsets(
        {k: np.asarray(v, dtype=np.float32) for k, v in entry["query"].items()},
        {k: np.asarray(v, dtype=np.float32) for k, v in entry["passage"].items()},
    )
