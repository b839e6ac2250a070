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

BATCH_TOKENS = 16 * 256  # padded tokens per model call (see `encode`)


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
        self._pad_id = int(pipeline["pad_id"])
        # Two tokenizers, each configured once (so concurrent calls never see the other's settings): one truncates
        # as the model is fed (`encode` pads each batch itself), one counts tokens as they are.
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.no_padding()
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
        encodings = self._tokenizer.encode_batch(texts)
        # Longest first, as sentence-transformers batches, so texts of like length share a batch and pad little;
        # and at most BATCH_TOKENS padded tokens per call (`batch_size` texts at most): ONNX Runtime's working
        # memory grows with the batch, and 16 chunks of 256 tokens embed faster than 64 (15.4 vs 14.1 per second
        # here, peak memory 490 MB vs 1.28 GB), while short questions still go 32 or more to a call.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out: list[np.ndarray] = []
        start = 0
        while start < len(order):
            longest = len(encodings[order[start]].ids)
            size = max(1, min(batch_size, BATCH_TOKENS // max(longest, 1)))
            rows = [encodings[i] for i in order[start : start + size]]
            start += size
            columns = self._columns(rows, longest)
            hidden = self.session.run(None, {name: columns[name] for name in self._inputs})[0]
            out.append(self._pool(hidden, columns["attention_mask"]))
        vectors = np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
        vectors = vectors[np.argsort(np.asarray(order, dtype=np.int64))] if out else vectors
        if normalize_embeddings or self._normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32, copy=False)

    def _columns(self, rows: list, width: int) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
        """Ids, type ids and attention mask of `rows` (tokenizers' encodings), padded to `width` tokens (the
        model takes those its export named; pooling always needs the mask)."""
        ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        types = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, encoding in enumerate(rows):
            n = len(encoding.ids)
            ids[r, :n] = encoding.ids
            types[r, :n] = encoding.type_ids
            mask[r, :n] = 1
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}

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
