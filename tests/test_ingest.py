"""Ingest against the real model and a real embedded Chroma: formats, offsets, incremental runs, failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import Indexer
from ingest.load import load_bytes
from ingest.write import STAGES
from rag import Assistant, ConfigError, IndexBusy
from rag.lexical import LexicalIndex
from rag.store import VectorStore

from .conftest import AI_LAW, SUPERCOMPUTER, CountingEmbedder, write_corpus
from .files import HTML_PAGE, make_docx, make_pdf

REPO = Path(__file__).resolve().parent.parent


def every_format(folder: Path) -> Path:
    write_corpus(folder, {"ai-law.md": AI_LAW, "notes.txt": "The Digital Code of Kazakhstan was adopted in 2025.\n", "hub.html": HTML_PAGE})
    make_pdf(folder / "report.pdf", ["The eGov portal offers hundreds of public services online.", "Data centres are being built near Astana."])
    make_docx(folder / "plan.docx", "Digital plan", ["The plan covers broadband for villages.", "It was funded by the state budget."])
    return folder


def ids_of(settings) -> set[str]:  # type: ignore[no-untyped-def]
    store = VectorStore(settings, "all-MiniLM-L6-v2")
    return {chunk_id for chunk_id, _, _ in store.iter_records(include_documents=False)}


def test_every_format_is_ingested_with_metadata_and_exact_offsets(tmp_path, make_settings, embedder):
    folder = every_format(tmp_path / "docs")
    settings = make_settings()
    report = Indexer(settings, embedder).run([str(folder)])
    assert report.ok, report.failed
    assert sorted(report.added) == ["docs/ai-law.md", "docs/hub.html", "docs/notes.txt", "docs/plan.docx", "docs/report.pdf"]
    store = VectorStore(settings, embedder.name)
    texts = {}
    for name in report.added:
        path = folder / name.split("/", 1)[1]
        texts[name] = load_bytes(path, name, path.read_bytes()).text
    chunks = list(store.get([i for i, _, _ in store.iter_records(include_documents=False)]).values())
    assert chunks
    for chunk in chunks:
        assert texts[chunk.source][chunk.start : chunk.end] == chunk.text
    by_source = {c.source: c for c in chunks}
    law = by_source["docs/ai-law.md"]
    assert law.title == "Kazakhstan's law on artificial intelligence" and law.date == "2025-11-17"
    assert law.url == "https://example.org/ai-law" and law.sources[0].title == "Tokayev signs AI law"
    assert law.meta["language"] == "en"
    assert {c.page for c in chunks if c.source == "docs/report.pdf"} == {1, 2}
    assert Assistant(settings, embedder=embedder).stats() == {"documents": 5, "chunks": len(chunks)}
    # Where the time went: every stage that ran took some, and the stages fit inside the whole run.
    spent = report.stage_seconds
    assert all(spent[stage] > 0 for stage in STAGES), spent
    assert sum(spent.values()) <= report.seconds
    assert report.stages().startswith(max(spent, key=spent.__getitem__))


def test_re_ingest_is_idempotent_and_embeds_nothing(tmp_path, make_settings, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    before = ids_of(settings)
    counting = CountingEmbedder(embedder)
    report = Indexer(settings, counting).run([str(folder)])
    assert counting.embedded == 0
    assert report.stage_seconds["read"] > 0 and not any(v for k, v in report.stage_seconds.items() if k.startswith("embed"))
    assert sorted(report.unchanged) == ["docs/ai-law.md", "docs/computers.md"] and not report.added and not report.updated
    assert ids_of(settings) == before


def test_changed_and_deleted_files_are_updated_and_removed(tmp_path, make_settings, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    computers_ids = {i for i in ids_of(settings)} - {i for i in _ids_for(settings, "docs/ai-law.md")}

    (folder / "ai-law.md").write_text(AI_LAW.replace("on 17 November 2025", "on 18 November 2025"), encoding="utf-8")
    report = Indexer(settings, embedder).run([str(folder)])
    assert report.updated == ["docs/ai-law.md"] and report.unchanged == ["docs/computers.md"]
    assistant = Assistant(settings, embedder=embedder)
    assert "18 November 2025" in assistant.ask("When was the AI law signed?").text

    (folder / "ai-law.md").unlink()
    report = Indexer(settings, embedder).run([str(folder)])
    assert report.removed == ["docs/ai-law.md"]
    assert ids_of(settings) == computers_ids
    # the lexical index follows the store: no orphans from the deleted file
    assert set(Assistant(settings, embedder=embedder).retriever.lexical().ids) == computers_ids


def _ids_for(settings, source: str) -> set[str]:  # type: ignore[no-untyped-def]
    store = VectorStore(settings, "all-MiniLM-L6-v2")
    return {i for i, _, m in store.iter_records(include_documents=False) if m["source"] == source}


def test_ingesting_another_folder_does_not_remove_the_first(tmp_path, make_settings, embedder):
    first = write_corpus(tmp_path / "first", {"ai-law.md": AI_LAW})
    second = write_corpus(tmp_path / "second", {"computers.md": SUPERCOMPUTER})
    settings = make_settings()
    Indexer(settings, embedder).run([str(first)])
    report = Indexer(settings, embedder).run([str(second)])
    assert report.added == ["second/computers.md"] and not report.removed
    assert Assistant(settings, embedder=embedder).stats()["documents"] == 2


def test_a_broken_file_is_reported_and_never_loses_stored_data(tmp_path, make_settings, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    law_ids = _ids_for(settings, "docs/ai-law.md")

    (folder / "ai-law.md").write_bytes(b"\x00\x00 now binary garbage \x00")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    (folder / "new.md").write_text("# New\n\nKazakhstan opened a new data centre in 2025.\n")
    report = Indexer(settings, embedder).run([str(folder)])
    assert not report.ok
    reasons = dict(report.failed)
    assert set(reasons) == {"docs/ai-law.md", "docs/empty.txt", "docs/broken.pdf"}
    assert "binary" in reasons["docs/ai-law.md"] and "empty" in reasons["docs/empty.txt"] and "PDF" in reasons["docs/broken.pdf"]
    assert report.added == ["docs/new.md"]
    assert _ids_for(settings, "docs/ai-law.md") == law_ids  # the old good version is still served


def test_oversized_files_are_refused_with_the_setting_to_change(tmp_path, make_settings, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "big.txt").write_text("word " * 300_000)
    report = Indexer(make_settings(max_file_mb=1), embedder).run([str(folder)])
    assert "RAG_MAX_FILE_MB" in dict(report.failed)["docs/big.txt"]


def test_an_index_built_with_another_model_is_refused(tmp_path, make_settings, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    with pytest.raises(ConfigError, match="re-ingest"):
        VectorStore(settings, "some-other-model")


def test_a_second_ingest_on_the_same_index_is_refused_while_one_runs(tmp_path, make_settings, embedder):
    from ingest.index import lock_index

    settings = make_settings()
    held = lock_index(settings, 0)
    try:
        with pytest.raises(IndexBusy, match="another ingest"):
            Indexer(settings, embedder).run([str(write_corpus(tmp_path / "docs", {"a.md": AI_LAW}))])
    finally:
        held.release()


def test_rebuild_drops_and_rebuilds(tmp_path, make_settings, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    before = ids_of(settings)
    report = Indexer(settings, embedder).run([str(folder)], rebuild=True)
    assert report.added == ["docs/ai-law.md"] and ids_of(settings) == before


def test_cli_prints_a_summary_and_fails_on_bad_files(tmp_path):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "bad.pdf": "not a pdf"})
    (folder / "image.png").write_bytes(b"\x89PNG")
    env = {"RAG_INDEX_DIR": str(tmp_path / "index"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "RAG_MODEL_CACHE_DIR": os.environ["RAG_MODEL_CACHE_DIR"]}  # the tests' shared ONNX export
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "-q", str(folder)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert "failed: docs/bad.pdf:" in result.stderr
    assert "skipped docs/image.png" in result.stderr
    assert "1 added" in result.stdout and "1 skipped" in result.stdout and "1 failed" in result.stdout
    stats = subprocess.run([sys.executable, "-m", "rag", "stats", "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(stats.stdout) == {"documents": 1, "chunks": 1}


def test_lexical_cache_matches_the_store_after_ingest(tmp_path, make_settings, embedder):
    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    store = VectorStore(settings, embedder.name)
    rebuilt = LexicalIndex.build(store.iter_records())
    assert sorted(Assistant(settings, embedder=embedder).retriever.lexical().ids) == sorted(rebuilt.ids)


def test_every_chunk_gets_a_multilingual_vector_and_its_sentences_vectors(tmp_path, make_settings, embedder):
    from rag.multilingual import build_multilingual
    from rag.spaces import sentence_id
    from rag.text import sentence_spans

    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    store = VectorStore(settings, embedder.name)
    chunks = store.get([i for i, _, _ in store.iter_records(include_documents=False)])
    assert store.multilingual.ids() == set(chunks)
    wanted = [sentence_id(c.id, i) for c in chunks.values() for i in range(c.meta["n_sentences"])]
    assert store.sentences.ids() == set(wanted)
    stored = store.sentences.sentences(wanted)
    assert stored.vectors.shape == (len(wanted), build_multilingual(settings).dimensions)
    for chunk_id, start, end in zip(stored.chunk_ids, stored.starts, stored.ends):
        chunk = chunks[chunk_id]
        assert (start - chunk.start, end - chunk.start) in sentence_spans(chunk.text)
    # a changed file replaces its side records too, and a removed one takes them along
    (folder / "ai-law.md").write_text(AI_LAW.replace("January 2026", "February 2026"), encoding="utf-8")
    (folder / "computers.md").unlink()
    Indexer(settings, embedder).run([str(folder)])
    store = VectorStore(settings, embedder.name)
    remaining = {i for i, _, _ in store.iter_records(include_documents=False)}
    assert store.multilingual.ids() == remaining
    assert {s.rsplit(":", 1)[0] for s in store.sentences.ids()} == remaining


def test_leftovers_of_an_interrupted_run_are_swept_and_missing_vectors_restored(tmp_path, make_settings, embedder):
    import numpy as np

    folder = write_corpus(tmp_path / "docs", {"ai-law.md": AI_LAW, "computers.md": SUPERCOMPUTER})
    settings = make_settings()
    Indexer(settings, embedder).run([str(folder)])
    store = VectorStore(settings, embedder.name)
    clean = (store.multilingual.ids(), store.sentences.ids())
    # What a kill -9 can leave: side records of a chunk that never landed, a chunk whose side records are gone.
    from rag.multilingual import build_multilingual

    size = build_multilingual(settings).dimensions
    vector = np.ones((1, size), dtype=np.float32) / np.sqrt(size)
    store.multilingual.upsert(["ghost"], vector, [{"chunk_id": "ghost", "source": "docs/x.md"}])
    store.sentences.upsert(["ghost:0"], vector, [{"chunk_id": "ghost", "source": "docs/x.md", "start": 0, "end": 5}])
    victim = next(iter(_ids_for(settings, "docs/computers.md")))
    store.multilingual.delete([victim])
    store.bump_generation(writing=True)
    assert store.interrupted()
    report = Indexer(settings, embedder).run([str(folder)])
    store = VectorStore(settings, embedder.name)
    assert (store.multilingual.ids(), store.sentences.ids()) == clean
    assert report.updated == ["docs/computers.md"] and not store.interrupted()
