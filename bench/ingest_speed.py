"""Ingest throughput of the product's Indexer vs bare SentenceTransformer.encode on the same chunk texts.

    .venv/bin/python bench/ingest_speed.py [--device cpu] [--scifact-docs 500] [--repeat 1]

1. corpus/ (the shipped files) through `Indexer.run` into a fresh temp index: seconds, chunks/s; then the
   same run again (nothing changed: the no-op re-ingest) and its seconds.
2. The chunk texts that index holds (title line + text, as the indexer embeds them), encoded by a bare
   `SentenceTransformer.encode` (same model, batch size and device): the floor any ingest pays.
3. The same two for the first N SciFact abstracts, indexed as prebuilt Documents by evaluation.beir.
The model is loaded before any timer starts. Peak RSS is this process's maximum resident memory.
Writes bench/results/ingest_speed.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, default_data, machine, peak_rss_mb, save, set_threads, settings_for


def bare_encode(model, texts: list[str], batch_size: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return time.perf_counter() - started


def stored_texts(settings, embedder) -> list[str]:  # type: ignore[no-untyped-def]
    from ingest.write import embedding_text
    from rag.store import VectorStore, record_to_chunk

    store = VectorStore(settings, embedder.name)
    return [embedding_text(record_to_chunk(i, t, m)) for i, t, m in store.iter_records()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"))
    parser.add_argument("--corpus", default=str(REPO / "corpus"))
    parser.add_argument("--data", default=str(default_data()), help="BEIR SciFact folder")
    parser.add_argument("--scifact-docs", type=int, default=500, help="SciFact abstracts to index (0: skip)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default, one per core)")
    args = parser.parse_args()
    threads = set_threads(args.threads or None)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from evaluation.beir import BeirData, ensure_index, load_beir
    from ingest import Indexer
    from rag.embedder import SentenceTransformerEmbedder

    base = settings_for(args.device)
    embedder = SentenceTransformerEmbedder(base)
    t0 = time.perf_counter()
    model = embedder.model
    load_s = time.perf_counter() - t0
    rss_model = peak_rss_mb()
    embedder.embed_documents(["warm up"])
    rows = []
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        settings = base.model_copy(update={"index_dir": Path(tmp) / "index"})
        indexer = Indexer(settings, embedder)
        report = indexer.run([args.corpus])
        first = report.seconds
        chunks = report.chunks_added
        again = indexer.run([args.corpus])
        assert not again.added and not again.updated, "the second run should change nothing"
        texts = stored_texts(settings, embedder)
        bare = bare_encode(model, texts, base.embedding_batch_size)
        rows.append({"set": f"corpus/ ({len(report.added)} files)", "chunks": chunks, "indexer_s": round(first, 2),
                     "indexer_chunks_per_s": round(chunks / first, 1), "bare_encode_s": round(bare, 2),
                     "bare_chunks_per_s": round(len(texts) / bare, 1), "overhead": round(first / bare, 2),
                     "noop_reingest_s": round(again.seconds, 3)})
        print(json.dumps(rows[-1]), file=sys.stderr)

        if args.scifact_docs:
            full = load_beir(args.data, "test")
            subset = dict(list(full.corpus.items())[: args.scifact_docs])
            data = BeirData(full.root, f"scifact-first{args.scifact_docs}", subset, {}, {}, "test")
            # A fresh cache folder: this must embed, not reuse the evaluation cache.
            info = ensure_index(data, base, embedder, cache_dir=Path(tmp) / "cache")
            texts = stored_texts(info.settings, embedder)
            bare = bare_encode(model, texts, base.embedding_batch_size)
            started = time.perf_counter()
            ensure_index(data, base, embedder, cache_dir=Path(tmp) / "cache")
            cached_s = time.perf_counter() - started
            rows.append({"set": f"SciFact first {len(subset)} abstracts", "chunks": info.chunks, "indexer_s": round(info.ingest_seconds, 2),
                         "indexer_chunks_per_s": round(info.chunks_per_second, 1), "bare_encode_s": round(bare, 2),
                         "bare_chunks_per_s": round(len(texts) / bare, 1), "overhead": round(info.ingest_seconds / bare, 2),
                         "noop_reingest_s": round(cached_s, 3)})
            print(json.dumps(rows[-1]), file=sys.stderr)

    result = {"device": args.device, "torch_threads": threads, "machine": machine(), "model_load_s": round(load_s, 2), "rss_after_model_mb": round(rss_model),
              "peak_rss_mb": round(peak_rss_mb()), "rows": rows}
    path = save("ingest_speed.json", result)
    print(f"{'set':<32} {'chunks':>6} {'Indexer s':>9} {'chunks/s':>8} {'bare encode s':>13} {'chunks/s':>8} {'ratio':>5} {'no-op s':>7}")
    for r in rows:
        print(f"{r['set']:<32} {r['chunks']:>6} {r['indexer_s']:>9.1f} {r['indexer_chunks_per_s']:>8.1f} {r['bare_encode_s']:>13.1f} "
              f"{r['bare_chunks_per_s']:>8.1f} {r['overhead']:>5.2f} {r['noop_reingest_s']:>7.3f}")
    print(f"model load {load_s:.1f}s; peak RSS {result['peak_rss_mb']} MB (after model load {rss_model:.0f} MB); saved {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
