"""The English model on ONNX Runtime (RAG_EMBEDDING_BACKEND=onnx|onnx-int8): exported locally once, cached,
and giving torch's vectors. One export per session (a few seconds), into a temp folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rag import onnx_export
from rag.embedder import SentenceTransformerEmbedder, resolve_model_path
from rag.errors import ConfigError
from rag.settings import DEFAULT_MODEL, Settings

SENTENCES = [
    "When did Kazakhstan's law on artificial intelligence take effect?",
    "Kazakhstan launched a national supercomputer in Astana in July 2025.",
    "  Leading and trailing spaces are stripped, as sentence-transformers does.  ",
    "Am 11. August 2025 erklärte Präsident Tokayev, dass die KI eine treibende Kraft sei.",
    "0-dimensional biomaterials show inductive properties. " * 40,  # past the 256-token limit: truncated
    "x",
]


@pytest.fixture(scope="session")
def onnx_cache() -> Path:
    """The tests' shared model cache (conftest), holding the fp32 and the int8 export (made there if missing)."""
    pytest.importorskip("onnx")
    cache = Settings().model_cache
    for backend in ("onnx", "onnx-int8"):
        _onnx(cache, backend).embed_query("export")
    return cache


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(Settings(embedding_backend="torch"))


def _onnx(cache: Path, backend: str = "onnx", **overrides) -> SentenceTransformerEmbedder:  # type: ignore[no-untyped-def]
    """An embedder whose exports live in `cache`."""
    return SentenceTransformerEmbedder(Settings(model_cache_dir=cache, embedding_backend=backend, **overrides))


def _export_folder(cache: Path, quantized: bool) -> Path:
    name, source = resolve_model_path(DEFAULT_MODEL)
    return onnx_export.cache_folder(cache, name, Path(source), quantized)


def test_onnx_vectors_match_torch(onnx_cache: Path, torch_embedder: SentenceTransformerEmbedder) -> None:
    embedder = torch_embedder
    onnx = _onnx(onnx_cache)
    reference, vectors = embedder.embed_documents(SENTENCES), onnx.embed_documents(SENTENCES)
    assert vectors.shape == reference.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (reference * vectors).sum(1).min() >= 0.999  # measured: 1.00000 over 200 SciFact texts
    query = onnx.embed_query(SENTENCES[0])
    assert query.shape == (384,) and float(query @ embedder.embed_query(SENTENCES[0])) >= 0.999
    assert onnx.embed_queries(SENTENCES[:2]).shape == (2, 384)
    assert onnx.max_tokens == embedder.max_tokens == 256
    assert onnx.count_tokens(SENTENCES[:3]) == embedder.count_tokens(SENTENCES[:3])
    assert onnx.passage_token_budget("A title") == embedder.passage_token_budget("A title")


def test_onnx_int8_vectors_close_to_torch(onnx_cache: Path, torch_embedder: SentenceTransformerEmbedder) -> None:
    embedder = torch_embedder
    vectors = _onnx(onnx_cache, "onnx-int8").embed_documents(SENTENCES)
    cosines = (embedder.embed_documents(SENTENCES) * vectors).sum(1)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Measured over 100 SciFact questions + 100 abstracts: mean 0.996, min 0.993 (10,569 SciFact chunks: min 0.992).
    assert cosines.min() >= 0.98 and cosines.mean() >= 0.99, cosines


def test_second_start_loads_the_cached_export(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = [_export_folder(onnx_cache, q) for q in (False, True)]
    assert all(onnx_export.is_complete(f) for f in folders)
    assert not (folders[1] / "model.safetensors").exists()  # configs and tokenizer copied, not torch weights
    before = [(f / onnx_export.ONNX_FILE).stat().st_mtime_ns for f in folders]

    def no_export(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("exported again instead of loading the cache")

    monkeypatch.setattr(onnx_export, "export", no_export)
    monkeypatch.setattr(onnx_export, "quantize", no_export)
    for backend in ("onnx", "onnx-int8"):
        assert _onnx(onnx_cache, backend).embed_query("cached").shape == (384,)
    assert [(f / onnx_export.ONNX_FILE).stat().st_mtime_ns for f in folders] == before
    assert not [p for p in folders[0].parent.glob(".*tmp-*") if p.stat().st_mtime > time.time() - 3600]  # no temporary folder left behind


def test_export_is_renamed_into_place_and_a_concurrent_one_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports go to a temporary folder first; when another process's finished export is already in place,
    that one is used and ours is dropped (nothing half-written is ever at the final path)."""
    name, source = resolve_model_path(DEFAULT_MODEL)
    root = tmp_path / "models"
    target = onnx_export.cache_folder(root, name, Path(source), False)

    def fake_export(src: Path, folder: Path) -> None:
        assert folder.parent == root and folder.name.startswith(f".{target.name}.tmp-")
        assert not target.exists()
        (folder / onnx_export.ONNX_FILE).write_text("ours")
        (folder / onnx_export.MANIFEST).write_text("{}")
        # Meanwhile another process finishes its export.
        target.mkdir(parents=True)
        (target / onnx_export.ONNX_FILE).write_text("theirs")
        (target / onnx_export.MANIFEST).write_text("{}")

    monkeypatch.setattr(onnx_export, "export", fake_export)
    assert onnx_export.ensure_exported(source, root, name, quantized=False) == target
    assert (target / onnx_export.ONNX_FILE).read_text() == "theirs"
    assert [p.name for p in root.iterdir() if p.suffix != ".lock"] == [target.name]  # our temporary copy is gone

    # An incomplete folder at the target (a crash before the rename cannot leave one, a hand copy can): replaced.
    (target / onnx_export.MANIFEST).unlink()

    def second_export(src: Path, folder: Path) -> None:
        (folder / onnx_export.ONNX_FILE).write_text("fresh")
        (folder / onnx_export.MANIFEST).write_text("{}")

    monkeypatch.setattr(onnx_export, "export", second_export)
    assert onnx_export.ensure_exported(source, root, name, quantized=False) == target
    assert (target / onnx_export.ONNX_FILE).read_text() == "fresh"


def test_a_second_process_waits_for_a_running_export_and_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export lock: while another process exports (holds the lock), ensure_exported waits, then takes the
    finished copy instead of exporting again; temporaries a crashed export left are swept by the next one."""
    import threading

    from filelock import FileLock

    name, source = resolve_model_path(DEFAULT_MODEL)
    root = tmp_path / "models"
    root.mkdir()
    target = onnx_export.cache_folder(root, name, Path(source), False)

    def must_not_export(src: Path, folder: Path) -> None:
        raise AssertionError("exported although another process's export was finished")

    monkeypatch.setattr(onnx_export, "export", must_not_export)
    other = FileLock(str(root / f".{target.name}.lock"))
    other.acquire()
    result: list[Path] = []
    waiter = threading.Thread(target=lambda: result.append(onnx_export.ensure_exported(source, root, name, quantized=False)))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and not result  # waiting for the lock
    target.mkdir()
    (target / onnx_export.ONNX_FILE).write_text("theirs")
    (target / onnx_export.MANIFEST).write_text("{}")
    other.release()
    waiter.join(10)
    assert result == [target] and (target / onnx_export.ONNX_FILE).read_text() == "theirs"

    quantized = onnx_export.cache_folder(root, name, Path(source), True)
    (root / f".{quantized.name}.tmp-crashed").mkdir()

    def fake_quantize(fp32: Path, folder: Path) -> None:
        (folder / onnx_export.ONNX_FILE).write_text("int8")
        (folder / onnx_export.MANIFEST).write_text("{}")

    monkeypatch.setattr(onnx_export, "quantize", fake_quantize)
    assert onnx_export.ensure_exported(source, root, name, quantized=True) == quantized
    assert not list(root.glob(".*tmp-*"))


def test_a_failed_export_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name, source = resolve_model_path(DEFAULT_MODEL)

    def broken(src: Path, folder: Path) -> None:
        (folder / "partial").write_text("x")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx_export, "export", broken)
    with pytest.raises(RuntimeError):
        onnx_export.ensure_exported(source, tmp_path / "models", name, quantized=False)
    assert [p.name for p in (tmp_path / "models").iterdir() if p.suffix != ".lock"] == []


def test_bad_backend_name_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings(embedding_backend="tensorrt")
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "onnx-int4")
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings()
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "onnx-int8")
    assert Settings().embedding_backend == "onnx-int8"
    monkeypatch.delenv("RAG_EMBEDDING_BACKEND")
    assert Settings().embedding_backend == "onnx"


def test_the_model_cache_defaults_to_the_users_cache_folder_not_the_index(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings(index_dir=tmp_path, model_cache_dir=None).model_cache == tmp_path / "xdg" / "kz-ai-rag" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert Settings(index_dir=tmp_path, model_cache_dir=None).model_cache == Path.home() / ".cache" / "kz-ai-rag" / "models"
    assert Settings(index_dir=tmp_path, model_cache_dir=tmp_path / "elsewhere").model_cache == tmp_path / "elsewhere"


def test_a_process_that_answers_never_imports_torch_or_transformers(small_index) -> None:  # type: ignore[no-untyped-def]
    """The default backend: questions are embedded by ONNX Runtime and `tokenizers` alone (a fast start)."""
    settings, _ = small_index
    script = (
        "import sys; from rag import Assistant; from rag.settings import Settings; "
        f"a = Assistant(Settings(index_dir={str(settings.index_dir)!r})); "
        "answer = a.ask('When did the AI law take effect?'); "
        "print(answer.grounded, 'torch' in sys.modules, 'transformers' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False", "False"]


def test_onnx_backend_refuses_a_gpu_and_a_hub_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RAG_EMBEDDING_DEVICE=cpu"):
        _onnx(tmp_path / "models", embedding_device="cuda")
    # A name that is not a local folder cannot be exported offline: a clear error, no download attempted.
    embedder = _onnx(tmp_path / "models", embedding_model="someone/some-model")
    with pytest.raises(ConfigError, match="RAG_EMBEDDING_BACKEND=torch"):
        embedder.embed_query("hello")
    assert not (tmp_path / "models").exists() or not os.listdir(tmp_path / "models")


def test_unsupported_pipeline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text(
        '[{"type": "sentence_transformers.models.Transformer", "path": ""},'
        ' {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"},'
        ' {"type": "sentence_transformers.models.Dense", "path": "2_Dense"}]'
    )
    with pytest.raises(ConfigError, match="Dense"):
        onnx_export.read_pipeline(tmp_path)


def test_evaluation_index_key_holds_the_backend(tmp_path: Path) -> None:
    from evaluation.beir import BeirData, index_key

    (tmp_path / "corpus.jsonl").write_text('{"_id": "1", "text": "a"}\n')
    data = BeirData(tmp_path, "fake", {}, {}, {}, "test")
    keys = {b: index_key(data, Settings(embedding_backend=b), "m") for b in ("torch", "onnx", "onnx-int8")}
    assert keys["torch"] == keys["onnx"] != keys["onnx-int8"]  # fp32 ONNX gives torch's vectors; int8 does not
