"""Exporting the English model to ONNX, locally, and caching the export beside the index (see onnx_backend).

`ensure_exported` returns `<cache_root>/<model>-<onnx|onnx-int8>-<fingerprint>/` (configs, tokenizer,
`model.onnx`, `onnx-export.json`), exporting it when missing: torch's exporter writes the fp32 graph; int8 is
quantised from the fp32 export (which stays cached too). The fingerprint covers the model folder and the
recipe, so a changed model or recipe is a new folder. An export is written to a temporary sibling folder and
renamed into place: no process sees half an export. A lock file beside it makes a second process wait for a
running export and use its copy (two apps started together on a fresh machine export once, not twice).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from .errors import ConfigError

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"  # the fast tokenizer, as the `tokenizers` library reads it
MANIFEST = "onnx-export.json"
EXPORT_VERSION = 3  # bump when the export changes: old caches are then ignored
QUANTIZE_VERSION = 2  # the same for the int8 recipe (`quantize`)
OPSET = 17
_WEIGHTS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.h5", "*.msgpack", "*.ckpt", "*.onnx", "*.onnx_data")
_SKIP_DIRS = ("onnx", "openvino", ".git", ".cache")
_SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}
_EXPORT_WAIT_SECONDS = 900  # how long a process waits for another's export


def needs_extra() -> ConfigError:
    return ConfigError("RAG_EMBEDDING_BACKEND=onnx needs the onnx package to export the model: pip install onnx")


def recipe(backend: str) -> str:
    """The version of what makes a backend's vectors (in cache keys: a new recipe is a new cache)."""
    return f"export={EXPORT_VERSION}|opset={OPSET}" + (f"|quantize={QUANTIZE_VERSION}" if backend == "onnx-int8" else "")


def source_fingerprint(source: Path, backend: str = "onnx") -> str:
    """Changes with the recipe and the model folder: small files by content, weight files by size and mtime."""
    digest = hashlib.sha256(recipe(backend).encode())
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source).as_posix()
        if rel.split("/")[0] in _SKIP_DIRS:
            continue
        stat = path.stat()
        digest.update(f"|{rel}|{stat.st_size}".encode())
        if stat.st_size <= 1 << 20:
            digest.update(path.read_bytes())
        else:
            digest.update(f"|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def cache_folder(cache_root: Path, model_name: str, source: Path, quantized: bool) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name)
    backend = "onnx-int8" if quantized else "onnx"
    return cache_root / f"{safe}-{backend}-{source_fingerprint(source, backend)}"


def is_complete(folder: Path, manifest: str = MANIFEST) -> bool:
    return (folder / ONNX_FILE).is_file() and (folder / manifest).is_file()


def ensure_exported(source: str | Path, cache_root: Path, model_name: str, quantized: bool) -> Path:
    """The cached ONNX export of the model folder `source`, made (and renamed into place) when missing.

    int8 is quantised from the fp32 export, which is exported first when missing and stays cached too."""
    source = Path(source)
    if not (source / "config.json").is_file():
        raise ConfigError(
            f"the ONNX backend exports a local sentence-transformers folder, and {source} has no config.json: "
            "set RAG_EMBEDDING_MODEL to a model folder, or RAG_EMBEDDING_BACKEND=torch"
        )
    target = cache_folder(cache_root, model_name, source, quantized)
    if is_complete(target):
        return target
    fp32 = ensure_exported(source, cache_root, model_name, False) if quantized else None

    def build(tmp: Path) -> None:
        if fp32 is not None:
            quantize(fp32, tmp)
        else:
            export(source, tmp)

    return build_once(cache_root, target.name, MANIFEST, build, model_name + (" (int8)" if quantized else ""))


def build_once(cache_root: Path, name: str, manifest: str, build: Callable[[Path], None], label: str) -> Path:
    """`cache_root/name`, written by `build(tmp_folder)` when missing: under a lock file (a second process waits
    and uses the first one's copy), into a temporary sibling renamed into place (no one sees half a folder)."""
    target = cache_root / name
    if is_complete(target, manifest):
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_root / f".{name}.lock"), timeout=_EXPORT_WAIT_SECONDS):
        if is_complete(target, manifest):
            return target
        _remove_stale_temporaries(cache_root, name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache_root))
        try:
            started = time.perf_counter()  # once per machine and model: say so, or a first start looks stuck
            log.warning("preparing %s for ONNX Runtime, once (10-30 s): %s", label, target)
            build(tmp)
            log.info("prepared %s in %.1fs: %s", label, time.perf_counter() - started, target)
            publish(tmp, target, manifest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def publish(tmp: Path, target: Path, manifest: str = MANIFEST) -> None:
    """Rename the finished export into place; another process's finished export there wins (same content)."""
    try:
        os.rename(tmp, target)
        return
    except OSError:
        if is_complete(target, manifest):
            log.info("another process exported %s first; using its copy", target)
            return
        if not target.exists():
            raise
    shutil.rmtree(target, ignore_errors=True)  # an incomplete folder (not ours, not renamed into place by us)
    try:
        os.rename(tmp, target)
    except OSError:
        if not is_complete(target, manifest):
            raise


def _remove_stale_temporaries(cache_root: Path, name: str) -> None:
    """Temporary folders a crashed export left behind (called under the export lock: no live export owns one)."""
    for leftover in cache_root.glob(f".{name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def copy_without_weights(source: Path, folder: Path) -> None:
    """The model folder's configuration and tokenizer files (not its weights, not other exports)."""
    import fnmatch

    root = source.resolve()

    def ignore(current: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if any(fnmatch.fnmatch(n, pattern) for pattern in _WEIGHTS)}
        if Path(current).resolve() == root:
            skipped |= {n for n in names if n in _SKIP_DIRS}
        return skipped

    shutil.copytree(source, folder, ignore=ignore, dirs_exist_ok=True)


def export(source: Path, folder: Path) -> None:
    """Write `folder`: the model's configuration and tokenizer files, `model.onnx`, and the manifest."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as exc:
        raise needs_extra() from exc
    import warnings

    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # the export is logged once; no weight-loading bar on stderr

    copy_without_weights(source, folder)
    pipeline = read_pipeline(folder)  # fails early on a model this runner cannot reproduce

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"the ONNX backend needs a fast tokenizer, and {source.name} has none: set RAG_EMBEDDING_BACKEND=torch")
    # What the runner needs to tokenise without transformers: the fast tokenizer's own file (its saved padding
    # and truncation are reset when loaded), the input limit sentence-transformers applies, and the pad token.
    tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
    limits = [n for n in (pipeline.get("max_seq_length"), tokenizer.model_max_length) if n and n < 1_000_000]
    pipeline["max_tokens"] = int(min(limits)) if limits else 512
    pipeline["pad_id"] = int(tokenizer.pad_token_id or 0)
    pipeline["pad_token"] = str(tokenizer.pad_token or "[PAD]")
    # Eager attention traces to plain ONNX ops (the SDPA path's mask handling does not trace faithfully).
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    names = [n for n in tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
    sample = tokenizer(["a first sample sentence", "and a second, longer sample sentence"], padding=True, return_tensors="pt")

    class Wrapper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs)), return_dict=True).last_hidden_state

    fp32 = folder / ONNX_FILE
    axes = {name: {0: "batch", 1: "tokens"} for name in (*names, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(
            Wrapper(model),
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    manifest = {
        "source": str(source),
        "inputs": names,
        "quantized": False,
        "opset": OPSET,
        "export_version": EXPORT_VERSION,
        "torch": torch.__version__,
        "pipeline": pipeline,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))


_FFN_OUTPUT = re.compile(r"(^|/)output/dense/MatMul$")


def matmul_names(path: Path) -> list[str]:
    import onnx

    return [node.name for node in onnx.load(str(path), load_external_data=False).graph.node if node.op_type == "MatMul"]


def quantize(fp32_folder: Path, folder: Path) -> None:
    """Write `folder`: the fp32 export's files with its graph's matrix products quantised to int8 (dynamic)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic  # needs the onnx package
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise needs_extra() from exc

    shutil.copytree(fp32_folder, folder, ignore=shutil.ignore_patterns(*_WEIGHTS, MANIFEST), dirs_exist_ok=True)
    source = fp32_folder / ONNX_FILE
    # The linear layers only (MatMul): quantising the embedding tables (Gather) costs accuracy for no speed.
    # Per-channel weight scales: per-tensor ones put all-MiniLM-L6-v2's vectors at a cosine of ~0.93 to
    # torch's, per-channel at ~0.99. reduce_range (7-bit weights) avoids the u8*s8 overflow of CPUs without
    # VNNI (AVX2). The feed-forward output projections (BERT's `layer.N.output.dense`, whose inputs carry the
    # largest activation outliers) stay fp32: SciFact dense nDCG@10 -0.0056 from torch instead of -0.0107,
    # vector cosine to torch's 0.9967 instead of 0.9934 (bench/embed_backends.py), for a little less speed.
    keep_fp32 = sorted(n for n in matmul_names(source) if _FFN_OUTPUT.search(n) and "attention" not in n)
    options = {"op_types_to_quantize": ["MatMul"], "per_channel": True, "reduce_range": True, "nodes_to_exclude": keep_fp32}
    # Shape inference first (ONNX Runtime's recommended pre-processing; the same vectors, no warning).
    shaped = folder / "model-shapes.onnx"
    quant_pre_process(str(source), str(shaped), skip_optimization=True, skip_symbolic_shape=True)
    quantize_dynamic(str(shaped), str(folder / ONNX_FILE), weight_type=QuantType.QInt8, **options)
    shaped.unlink()
    manifest = json.loads((fp32_folder / MANIFEST).read_text())
    manifest.update({"quantized": True, "quantization": {"weight_type": "QInt8", **options}, "quantize_version": QUANTIZE_VERSION, "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))


def read_pipeline(folder: Path) -> dict[str, Any]:
    """Pooling, normalisation and input length of a sentence-transformers folder (modules.json and friends)."""
    modules_file = folder / "modules.json"
    modules = json.loads(modules_file.read_text()) if modules_file.is_file() else [
        {"type": "sentence_transformers.models.Transformer", "path": ""},
        {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"},
    ]
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in _SUPPORTED_MODULES]
    if unsupported or not kinds or kinds[0] != "Transformer":
        raise ConfigError(
            f"the ONNX backend runs Transformer -> Pooling -> Normalize models; {folder.name} has {kinds}: "
            "set RAG_EMBEDDING_BACKEND=torch"
        )
    pooling = "mean"
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            config_file = folder / str(module.get("path", "")) / "config.json"
            config = json.loads(config_file.read_text()) if config_file.is_file() else {}
            modes = [m for m in ("cls_token", "mean_tokens", "max_tokens") if config.get(f"pooling_mode_{m}")]
            other = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and k[13:] not in ("cls_token", "mean_tokens", "max_tokens")]
            if len(modes) > 1 or other or (config.get("pooling_mode") not in (None, "mean", "cls", "max")):
                raise ConfigError(f"the ONNX backend does not reproduce the pooling of {folder.name} ({config}): set RAG_EMBEDDING_BACKEND=torch")
            pooling = config.get("pooling_mode") or (modes[0].split("_")[0] if modes else "mean")
    st_config_file = folder / "sentence_bert_config.json"
    st_config = json.loads(st_config_file.read_text()) if st_config_file.is_file() else {}
    return {
        "pooling": pooling,
        "normalize": "Normalize" in kinds,
        "max_seq_length": st_config.get("max_seq_length"),
        "do_lower_case": bool(st_config.get("do_lower_case", False)),
    }
