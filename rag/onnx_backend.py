"""The embedding model on ONNX Runtime (`RAG_EMBEDDING_BACKEND=onnx|onnx-int8`): exported here, never downloaded.

The sentence-transformers model folder is exported once to ONNX (torch's exporter) into a cache folder beside
the index, `<index_dir>/models/<model>-<backend>-<fingerprint>/`, and loaded from there on every later start
(rag/onnx_export.py: the export, its cache, and what concurrent processes do). `onnx-int8` quantises the
exported graph's matrix products to int8 (ONNX Runtime's dynamic quantisation, per-channel, the feed-forward
output projections left in fp32; see `onnx_export.quantize`).

Why not sentence-transformers' own `backend="onnx"`: it needs `optimum-onnx`, whose only release requires
transformers < 4.58, while sentence-transformers 6 requires transformers 5. The model here is the same
Transformer -> Pooling -> Normalize pipeline, run as tokenizer -> ONNX graph -> pooling in numpy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .onnx_export import MANIFEST, ONNX_FILE, TOKENIZER_FILE, ensure_exported


class OnnxSentenceModel:
    """What the embedder uses of a SentenceTransformer (`encode`, `max_seq_length`, plus `count_tokens`), on ONNX
    Runtime with the `tokenizers` library: a process that only answers never imports torch or transformers."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        manifest = json.loads((folder / MANIFEST).read_text())
        self.folder = folder
        self.quantized = bool(manifest["quantized"])
        self._inputs: list[str] = list(manifest["inputs"])
        pipeline = manifest["pipeline"]
        self._pooling: str = pipeline["pooling"]
        self._normalize: bool = bool(pipeline["normalize"])
        self._lower: bool = bool(pipeline["do_lower_case"])
        self.max_seq_length = int(pipeline["max_tokens"])
        # Two tokenizers, each configured once (so concurrent calls never see the other's settings): one pads and
        # truncates as the model is fed, one counts tokens as they are.
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.enable_padding(pad_id=int(pipeline["pad_id"]), pad_token=str(pipeline["pad_token"]))
        self._counter = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._counter.no_truncation()
        self._counter.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default (the physical cores)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text without the special ones (what sentence-transformers' tokenizer would count)."""
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.encode(["x"]).shape[1])

    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        texts = [s.strip() for s in sentences]
        if self._lower:
            texts = [t.lower() for t in texts]
        # Longest first, as sentence-transformers batches: texts of like length pad little.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            batch = [texts[i] for i in order[start : start + batch_size]]
            encodings = self._tokenizer.encode_batch(batch)
            columns = {
                "input_ids": [e.ids for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings],
            }
            feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
            hidden = self.session.run(None, feed)[0]
            out.append(self._pool(hidden, feed["attention_mask"]))
        vectors = np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
        vectors = vectors[np.argsort(order)]
        if normalize_embeddings or self._normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32, copy=False)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._pooling == "cls":
            return hidden[:, 0]
        weights = mask[..., None].astype(np.float32)
        if self._pooling == "max":
            return np.where(weights > 0, hidden, -1e9).max(axis=1)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def load_onnx_model(source: str | Path, cache_root: Path, model_name: str, quantized: bool, threads: int | None) -> OnnxSentenceModel:
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:  # pragma: no cover - chromadb depends on it
        raise ConfigError("RAG_EMBEDDING_BACKEND=onnx needs onnxruntime: pip install onnxruntime") from exc
    return OnnxSentenceModel(ensure_exported(source, cache_root, model_name, quantized), threads)
