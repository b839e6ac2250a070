"""End-to-end BEIR evaluation on a 20-document fixture: real model, temp index and cache folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.beir import documents_ranked, evaluate_beir, load_beir
from rag.settings import Settings

from .conftest import CountingEmbedder

MINI = Path(__file__).parent / "data" / "beir-mini"


def test_load_beir_reads_the_bundled_layout() -> None:
    data = load_beir(MINI, "test")
    assert len(data.corpus) == 20 and len(data.split_queries) == 10
    assert all(len(rel) == 1 and set(rel) <= set(data.corpus) for rel in data.qrels.values())
    with pytest.raises(Exception, match="no qrels for split 'train'"):
        load_beir(MINI, "train")


def test_beir_eval_end_to_end_and_cached(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    counting = CountingEmbedder(embedder)
    settings = Settings(index_dir=tmp_path / "product-index")
    first = evaluate_beir(MINI, settings, embedder=counting, cache_dir=tmp_path / "cache")
    embedded = counting.embedded
    assert not first["index_cached"] and embedded == first["chunks"] >= 20
    assert first["queries"] == 10 and first["documents"] == 20
    for metric in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
        assert 0.0 <= first[metric] <= 1.0
    # Each claim's one relevant abstract among 20 documents: hybrid retrieval finds nearly all of them.
    assert first["ndcg@10"] >= 0.7 and first["recall@10"] >= 0.9 and first["recall@100"] == 1.0
    assert first["ingest_chunks_per_s"] > 0 and 0 < first["query_p50_ms"] <= first["query_p95_ms"]
    assert not settings.index_dir.exists(), "the product's own index must not be touched"

    # Other fusion settings reuse the same index: nothing is embedded again.
    convex = settings.model_copy(update={"dense_weight": 0.8, "lexical_weight": 0.2})
    second = evaluate_beir(MINI, convex, embedder=counting, cache_dir=tmp_path / "cache", fusion="convex")
    assert second["index_cached"] and counting.embedded == embedded
    assert second["settings"]["fusion"] == "convex" and second["ndcg@10"] >= 0.7
    assert second["chunks"] == first["chunks"] and second["index_dir"] == first["index_dir"]

    # Other chunking settings get an index of their own.
    third = evaluate_beir(MINI, settings.model_copy(update={"chunk_words": 60, "chunk_overlap_words": 10}), embedder=counting,
                          cache_dir=tmp_path / "cache", limit=3, details=True)
    assert not third["index_cached"] and third["index_dir"] != first["index_dir"] and third["chunks"] > first["chunks"]
    assert third["queries"] == 3 and len(third["per_query"]) == 3


def test_cli_json_is_the_last_line(tmp_path: Path, capsys, monkeypatch, embedder) -> None:  # type: ignore[no-untyped-def]
    from evaluation import beir
    from rag.__main__ import main

    monkeypatch.setattr(beir, "SentenceTransformerEmbedder", lambda settings: embedder)
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    code = main(["eval", "beir", str(MINI), "--json", "--no-progress", "--cache-dir", str(tmp_path / "cache"), "--limit", "4"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    report = json.loads(out[-1])
    assert report["queries"] == 4 and report["split"] == "test" and "ndcg@10" in report

    code = main(["eval", "beir", str(MINI), "--no-progress", "--cache-dir", str(tmp_path / "cache"), "--limit", "4"])
    table = capsys.readouterr().out
    assert code == 0 and "nDCG@10" in table and "(cached)" in table


def test_documents_ranked_by_best_chunk() -> None:
    from rag.types import Chunk, Passage

    def passage(doc: str, score: float) -> Passage:
        return Passage(Chunk(f"{doc}-{score}", doc, "", "t", 0, 1), score)

    assert documents_ranked([passage("a", 0.9), passage("b", 0.8), passage("a", 0.7), passage("c", 0.1)]) == ["a", "b", "c"]
