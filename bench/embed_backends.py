"""The English model on each backend (`RAG_EMBEDDING_BACKEND`): torch, onnx, onnx-int8, side by side in one run.

    .venv/bin/python bench/embed_backends.py [--backends torch onnx onnx-int8] [--queries 200] [--passages 300]
                                             [--rounds 3] [--quality product|none] [--limit N] [--cache-dir DIR]

1. Agreement: cosine between torch's vectors and each other backend's for the same texts (100 SciFact
   questions, 100 abstracts as title line + text): mean and min.
2. Query latency: `--queries` SciFact test questions embedded one at a time with 1 thread (what a server
   does: RAG_TORCH_THREADS=1), the backends alternating question by question in rotated order, after 10
   warm-up questions each: p50/p95 ms. The machine is shared: alternating spreads its noise evenly.
3. Passage throughput: the first `--passages` SciFact abstracts in batches of `embedding_batch_size`, default
   threads; `--rounds` rounds, the backends in rotated order each round: chunks/s, median and best round.
4. Quality (`--quality product`): SciFact test (300 queries over all 5,183 abstracts, 10,569 chunks), twice:
   - product: nDCG@10 of `evaluation.beir.evaluate_beir`, the whole hybrid retrieval (dense + BM25 +
     multilingual), with the backend's query vectors and an index whose English chunk vectors the backend
     embedded itself;
   - dense: the English model alone over the same chunk vectors (exact search, documents ranked by their
     best chunk), nDCG@10: the most sensitive to a change of embeddings.
   torch's index is the evaluation cache's (built on first use, ~20+ min here). Every other backend gets a
   copy of it whose English chunk vectors it re-embeds from the stored chunks (their title line + text, as
   ingest embeds them): the chunks, the BM25 index and the multilingual vectors do not depend on the backend,
   so the copy is what an ingest with that backend builds. Copies are cached (the key holds the backend).
   Before that, 64 stored torch vectors are re-embedded by torch now: their cosine to the stored ones shows
   the cached index is this model's. Control (`torch-rewritten`): a copy whose English vectors are torch's
   stored ones, written back the same way; the product figures of the other backends are compared with it
   (`product_ndcg@10_minus_control`), since the rewrite alone moves the product nDCG a little (measured +0.0027
   on SciFact, from the copy's rebuilt indexes, with identical vectors).
The ONNX exports are cached under `<cache-dir>/models/` (export seconds are reported when this run made them).
Writes bench/results/embed_backends.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import default_data, load_average, machine, save

BACKENDS = ("torch", "onnx", "onnx-int8")


def make_embedder(backend: str, cache_dir: Path, threads: int | None):  # type: ignore[no-untyped-def]
    """An embedder of `backend`; its ONNX export cached in `cache_dir/models` (index_dir is only that here)."""
    from rag.embedder import SentenceTransformerEmbedder
    from rag.settings import Settings

    return SentenceTransformerEmbedder(Settings(embedding_backend=backend, index_dir=cache_dir, torch_threads=threads))


def load(backend: str, cache_dir: Path, threads: int | None) -> tuple[Any, dict[str, float]]:
    """The embedder with its model loaded (first query embedded), and how long that took."""
    from rag.embedder import resolve_model_path
    from rag.onnx_export import cache_folder, is_complete

    info: dict[str, float] = {}
    exported = True
    if backend != "torch":
        name, source = resolve_model_path("all-MiniLM-L6-v2")
        exported = is_complete(cache_folder(cache_dir / "models", name, Path(source), backend == "onnx-int8"))
    started = time.perf_counter()
    embedder = make_embedder(backend, cache_dir, threads)
    embedder.embed_query("warm up")
    seconds = time.perf_counter() - started
    info["export_and_load_s" if not exported else "load_s"] = round(seconds, 2)
    return embedder, info


def set_torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def agreement(embedders: dict[str, Any], questions: list[str], passages: list[str]) -> dict[str, dict[str, float]]:
    import numpy as np

    reference_q = embedders["torch"].embed_queries(questions)
    reference_p = embedders["torch"].embed_documents(passages)
    out: dict[str, dict[str, float]] = {}
    for backend, embedder in embedders.items():
        if backend == "torch":
            continue
        vq = embedder.embed_queries(questions)
        vp = embedder.embed_documents(passages)
        cq, cp = (reference_q * vq).sum(1), (reference_p * vp).sum(1)
        both = np.concatenate([cq, cp])
        out[backend] = {
            "dimension": int(vq.shape[1]),
            "norm_min": round(float(np.linalg.norm(np.concatenate([vq, vp]), axis=1).min()), 5),
            "cosine_mean": round(float(both.mean()), 5),
            "cosine_min": round(float(both.min()), 5),
            "cosine_mean_questions": round(float(cq.mean()), 5),
            "cosine_min_questions": round(float(cq.min()), 5),
            "cosine_mean_passages": round(float(cp.mean()), 5),
            "cosine_min_passages": round(float(cp.min()), 5),
        }
    return out


def query_latency(embedders: dict[str, Any], questions: list[str]) -> dict[str, dict[str, float]]:
    from evaluation.metrics import percentile

    set_torch_threads(1)
    names = list(embedders)
    for name in names:
        for q in questions[:10]:
            embedders[name].embed_query(q)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, question in enumerate(questions):
        for name in rotated(names, i):
            started = time.perf_counter()
            embedders[name].embed_query(question)
            times[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {"p50_ms": round(percentile(t, 50), 2), "p95_ms": round(percentile(t, 95), 2), "mean_ms": round(statistics.fmean(t), 2)}
        for name, t in times.items()
    }


def passage_throughput(embedders: dict[str, Any], passages: list[str], rounds: int, threads: int) -> dict[str, dict[str, Any]]:
    set_torch_threads(threads)
    names = list(embedders)
    embedders_rate: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        embedders[name].embed_documents(passages[:8])
    for r in range(rounds):
        for name in rotated(names, r):
            started = time.perf_counter()
            embedders[name].embed_documents(passages)
            embedders_rate[name].append(len(passages) / (time.perf_counter() - started))
    return {
        name: {"median_chunks_per_s": round(statistics.median(rates), 1), "best_chunks_per_s": round(max(rates), 1), "rounds": [round(x, 1) for x in rates]}
        for name, rates in embedders_rate.items()
    }


# --- quality ---------------------------------------------------------------------------------------------------
def read_index(settings, embedder_name: str, multilingual_name: str):  # type: ignore[no-untyped-def]
    """(chunk ids, their documents, embedding texts, English vectors) of an evaluation index."""
    import numpy as np

    from ingest.write import embedding_text
    from rag.store import VectorStore, record_to_chunk

    store = VectorStore(settings, embedder_name, multilingual_name)
    ids, sources, texts, chunks = [], [], [], []
    for chunk_id, text, meta in store.iter_records():
        chunk = record_to_chunk(chunk_id, text, meta)
        ids.append(chunk_id)
        sources.append(chunk.source)
        texts.append(embedding_text(chunk))
        chunks.append(chunk)
    vectors = []
    for i in range(0, len(ids), 2000):  # the bench reads the vectors back; the product never needs to
        got = store._collection.get(ids=ids[i : i + 2000], include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"]))
        vectors.extend(by_id[c] for c in ids[i : i + 2000])
    return ids, sources, texts, chunks, np.asarray(vectors, dtype=np.float32)


def rewritten_index(torch_dir: Path, target: Path, settings, embedder_name: str, multilingual_name: str, embed) -> float:  # type: ignore[no-untyped-def]
    """Copy torch's evaluation index to `target` with the English chunk vectors `embed(texts)`; seconds embedding.

    Built in place with the marker written last (what evaluate_beir takes as "complete"), in this process, so
    that the evaluation's store shares the Chroma system that wrote the new vectors."""
    from evaluation.beir import MARKER, eval_settings
    from rag.store import VectorStore

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(torch_dir, target, ignore=shutil.ignore_patterns("*.lock", "fusion-candidates.pkl", MARKER))
    target_settings = eval_settings(settings, target)
    _, _, texts, chunks, _ = read_index(target_settings, embedder_name, multilingual_name)
    started = time.perf_counter()
    vectors = embed(texts)
    seconds = time.perf_counter() - started
    VectorStore(target_settings, embedder_name, multilingual_name).upsert(chunks, vectors)
    marker = json.loads((torch_dir / MARKER).read_text())
    marker.update({"english_vectors": "rewritten from the torch index's chunks by bench/embed_backends.py",
                   "english_embed_seconds": round(seconds, 1), "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    (target / MARKER).write_text(json.dumps(marker, indent=1))
    return seconds


def backend_index(data, base_settings, torch_info, embedder, multilingual, backend: str, cache_dir: Path) -> tuple[Path, float | None]:  # type: ignore[no-untyped-def]
    """The evaluation index for `backend`: a copy of torch's with the English chunk vectors re-embedded."""
    from evaluation.beir import MARKER, index_key

    settings = base_settings.model_copy(update={"embedding_backend": backend})
    target = cache_dir / index_key(data, settings, f"{embedder.name}+{multilingual.name}")
    if (target / MARKER).is_file():
        return target, None
    seconds = rewritten_index(torch_info.settings.index_dir, target, settings, embedder.name, multilingual.name, embedder.embed_documents)
    return target, seconds


def control_run(base, torch_info, embedder, multilingual, stored, queries, qrels, cache_dir: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """torch's own stored vectors written into a copy the same way as the other backends' (the procedure's
    noise: Chroma's HNSW graph differs after the rewrite), queried as evaluate_beir does."""
    from evaluation.beir import MARKER, eval_settings, run_queries, score_run
    from rag.assistant import Assistant

    target = cache_dir / f"{torch_info.settings.index_dir.name}-rewritten"
    if not (target / MARKER).is_file():
        rewritten_index(torch_info.settings.index_dir, target, base, embedder.name, multilingual.name, lambda texts: stored)
    assistant = Assistant(eval_settings(base, target), embedder=embedder, multilingual=multilingual)
    scores = score_run(run_queries(assistant, queries), qrels)
    return {f"product_{m}": round(v, 4) for m, v in scores.items()} | {"index_dir": str(target)}


def dense_ndcg(sources: list[str], vectors, query_vectors, qids: list[str], qrels, k: int = 10) -> float:  # type: ignore[no-untyped-def]
    import numpy as np

    from evaluation.metrics import evaluate

    scores = query_vectors @ vectors.T
    run: dict[str, list[str]] = {}
    for row, qid in enumerate(qids):
        seen: dict[str, None] = {}
        for idx in np.argsort(-scores[row], kind="stable")[: 40 * k]:
            seen.setdefault(sources[idx], None)
            if len(seen) >= 100:
                break
        run[qid] = list(seen)
    return float(evaluate(run, qrels, (f"ndcg@{k}",))[f"ndcg@{k}"])


def quality(loaded: dict[str, Any], data_dir: Path, eval_cache: Path, limit: int | None) -> dict[str, Any]:
    from evaluation.beir import ensure_index, evaluate_beir, load_beir
    from rag.multilingual import build_multilingual
    from rag.settings import Settings

    data = load_beir(data_dir, "test")
    base = Settings()
    multilingual = build_multilingual(base)
    set_torch_threads(os.cpu_count() or 1)
    backends = list(loaded)
    out: dict[str, Any] = {"load_average_1m_start": load_average()[0]}
    torch_info = ensure_index(data, base, loaded["torch"], eval_cache, progress=True, multilingual=multilingual)
    ids, sources, texts, _, stored = read_index(torch_info.settings, loaded["torch"].name, multilingual.name)
    fresh = loaded["torch"].embed_documents(texts[:64])
    out["torch_index"] = {"dir": str(torch_info.settings.index_dir), "chunks": len(ids),
                          "stored_vs_now_cosine_min": round(float((fresh * stored[:64]).sum(1).min()), 5)}
    queries = data.split_queries
    if limit:
        queries = dict(list(queries.items())[:limit])
    qids = list(queries)
    qrels = {q: data.qrels[q] for q in qids}
    for backend in backends:
        embedder = loaded[backend]
        row: dict[str, Any] = {}
        if backend == "torch":
            vectors, folder = stored, torch_info.settings.index_dir
        else:
            folder, seconds = backend_index(data, base, torch_info, embedder, multilingual, backend, eval_cache)
            if seconds is not None:
                row["reembed_chunks_per_s"] = round(len(ids) / seconds, 1)
            _, b_sources, _, _, vectors = read_index(torch_info.settings.model_copy(update={"index_dir": folder}), embedder.name, multilingual.name)
            assert b_sources == sources, "the copy's chunks differ from torch's"
            row["chunk_vectors_cosine_to_torch_mean"] = round(float((vectors * stored).sum(1).mean()), 5)
            row["chunk_vectors_cosine_to_torch_min"] = round(float((vectors * stored).sum(1).min()), 5)
        query_vectors = embedder.embed_queries([queries[q] for q in qids])
        row["dense_ndcg@10"] = round(dense_ndcg(sources, vectors, query_vectors, qids, qrels), 4)
        settings = base.model_copy(update={"embedding_backend": backend})
        report = evaluate_beir(data_dir, settings, split="test", embedder=embedder, multilingual=multilingual, cache_dir=eval_cache, limit=limit)
        assert report["index_dir"] == str(folder), (report["index_dir"], folder)
        row.update({f"product_{m}": report[m] for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "query_p50_ms", "query_p95_ms")})
        row["index_dir"] = str(folder)
        row["load_average_1m"] = load_average()[0]
        out[backend] = row
        print(f"  {backend}: {row}", flush=True)
        if backend == "torch":
            out["torch-rewritten"] = control_run(base, torch_info, embedder, multilingual, stored, queries, qrels, eval_cache)
            print(f"  torch-rewritten (control): {out['torch-rewritten']}", flush=True)
    for backend in ["torch-rewritten", *backends[1:]]:
        row = out[backend]
        row["product_ndcg@10_minus_torch"] = round(row["product_ndcg@10"] - out["torch"]["product_ndcg@10"], 4)
        # Like with like: the other backends' indexes were rewritten the same way as the control's.
        row["product_ndcg@10_minus_control"] = round(row["product_ndcg@10"] - out["torch-rewritten"]["product_ndcg@10"], 4)
        if "dense_ndcg@10" in row:
            row["dense_ndcg@10_minus_torch"] = round(row["dense_ndcg@10"] - out["torch"]["dense_ndcg@10"], 4)
    out["queries"] = len(qids)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--data", default=str(default_data()), help="BEIR SciFact folder")
    parser.add_argument("--queries", type=int, default=200, help="questions for the latency test")
    parser.add_argument("--passages", type=int, default=300, help="abstracts for the throughput test")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (backends rotated each round)")
    parser.add_argument("--quality", choices=("product", "none"), default="product")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test queries for the quality")
    parser.add_argument("--cache-dir", default=None, help="evaluation cache (default: RAG_EVAL_CACHE_DIR or ~/.cache/kz-ai-rag/eval)")
    args = parser.parse_args()
    if args.backends[0] != "torch":
        parser.error("the first backend must be torch (the reference)")

    import torch

    from evaluation.beir import default_cache_dir, load_beir

    eval_cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir(os.environ)
    eval_cache.mkdir(parents=True, exist_ok=True)
    default_threads = torch.get_num_threads()
    data = load_beir(args.data, "test")
    questions = list(data.split_queries.values())[: args.queries]
    all_questions = list(data.queries.values())
    docs = list(data.corpus.values())
    passages = [f"{title}\n{text}" if title else text for title, text in docs[: args.passages]]
    result: dict[str, Any] = {"machine": machine(), "backends": args.backends, "questions": len(questions), "passages": len(passages)}

    print(f"load average {load_average()[0]}; loading {args.backends}", flush=True)
    serving, batch, loads = {}, {}, {}
    set_torch_threads(1)
    for backend in args.backends:
        serving[backend], loads[backend] = load(backend, eval_cache, 1)
        batch[backend] = serving[backend] if backend == "torch" else make_embedder(backend, eval_cache, None)
    result["load"] = loads
    print(f"load: {loads}", flush=True)

    set_torch_threads(default_threads)
    result["agreement"] = agreement(batch, all_questions[:100], [f"{t}\n{x}" for t, x in docs[-100:]])
    print(f"agreement with torch: {json.dumps(result['agreement'], indent=1)}", flush=True)

    result["latency_load_average_1m"] = load_average()[0]
    result["query_latency_1_thread"] = query_latency(serving, questions)
    result["latency_load_average_1m_end"] = load_average()[0]
    print(f"query latency (1 thread, {len(questions)} questions, load {result['latency_load_average_1m']}): "
          f"{json.dumps(result['query_latency_1_thread'])}", flush=True)

    result["throughput_load_average_1m"] = load_average()[0]
    result["passage_throughput"] = passage_throughput(batch, passages, args.rounds, default_threads)
    result["throughput_threads"] = default_threads
    result["throughput_load_average_1m_end"] = load_average()[0]
    print(f"passage throughput ({len(passages)} abstracts, {default_threads} threads, load {result['throughput_load_average_1m']}): "
          f"{json.dumps(result['passage_throughput'])}", flush=True)
    save("embed_backends.json", result)

    if args.quality == "product":
        print("quality on SciFact test ...", flush=True)
        result["quality"] = quality(batch, Path(args.data), eval_cache, args.limit)
        print(f"quality: {json.dumps(result['quality'], indent=1)}", flush=True)
    result["machine_end"] = {"load_average_1m": load_average()[0]}
    path = save("embed_backends.json", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
