"""The LangChain tutorial pipeline vs ours, in one run: ingest time, query latency, source hits, SciFact nDCG@10.

    .venv/bin/python bench/langchain_baseline.py [--device cpu] [--questions 50] [--rebuild-scifact]

Needs `langchain-huggingface` and `langchain-chroma` (not product dependencies; see bench/README.md).

LangChain: each file read as one Document (as TextLoader does) -> RecursiveCharacterTextSplitter(1000, 200) ->
HuggingFaceEmbeddings(model_name=<the same local all-MiniLM-L6-v2 folder>) -> Chroma.from_documents ->
similarity_search(q, k=4). Ours: Indexer.run, then Assistant.retrieve(q, k=4) (the same job) and
Assistant.ask (retrieval plus the extractive answer with citations).

- corpus/: both pipelines index it fresh into temp folders (models loaded before the timers), then answer the
  first 50 questions of eval/devset.jsonl; "source hit@4" is the share whose expected file is among the 4 hits.
- SciFact test: LangChain's index of all abstracts (title + abstract as page_content) is built once and kept in
  the evaluation cache (`--rebuild-scifact` redoes it); documents ranked by their best chunk among the top 40
  chunks, so nDCG@10 is defined. Ours is `python -m rag eval beir` with the current settings (its cached index).
Writes bench/results/langchain_baseline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, add_corpus_arguments, machine, peak_rss_mb, save, set_threads, settings_for


def _langchain():  # type: ignore[no-untyped-def]
    try:
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError as exc:
        sys.exit(f"this benchmark needs LangChain's integrations: .venv/bin/pip install -c constraints.txt "
                 f"langchain-huggingface langchain-chroma ({exc})")
    return Chroma, Document, HuggingFaceEmbeddings, RecursiveCharacterTextSplitter


def timed(fn, items):  # type: ignore[no-untyped-def]
    out, times = [], []
    for item in items:
        started = time.perf_counter()
        out.append(fn(item))
        times.append((time.perf_counter() - started) * 1000)
    return out, times


def lc_scifact_index(data, embeddings, cache_root: Path, rebuild: bool):  # type: ignore[no-untyped-def]
    """LangChain's Chroma over every SciFact abstract, persisted in the cache; (store, chunks, ingest seconds)."""
    Chroma, Document, _, Splitter = _langchain()
    from evaluation.beir import corpus_hash

    folder = cache_root / f"langchain-{data.name}-{corpus_hash(data.root)[:16]}"
    marker = folder / "ingest.json"
    if marker.exists() and not rebuild:
        info = json.loads(marker.read_text())
        return Chroma(collection_name="scifact", embedding_function=embeddings, persist_directory=str(folder)), info["chunks"], info["seconds"], True
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    docs = [Document(page_content=f"{title}\n\n{text}", metadata={"doc_id": doc_id}) for doc_id, (title, text) in data.corpus.items()]
    chunks = Splitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = Chroma.from_documents(chunks, embeddings, collection_name="scifact", persist_directory=str(folder))
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"chunks": len(chunks), "seconds": seconds, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")}))
    return store, len(chunks), seconds, False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_arguments(parser)
    parser.add_argument("--rebuild-scifact", action="store_true", help="re-embed LangChain's SciFact index")
    parser.add_argument("--skip-scifact", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads for both pipelines (0: torch's default)")
    args = parser.parse_args()
    threads = set_threads(args.threads or None)

    import logging

    logging.basicConfig(level=logging.WARNING)
    Chroma, Document, HuggingFaceEmbeddings, Splitter = _langchain()
    from evaluation.beir import default_cache_dir, evaluate_beir, load_beir
    from evaluation.metrics import evaluate, percentile
    from evaluation.qa import load_devset, source_matches
    from ingest import Indexer
    from ingest.discover import discover
    from rag.assistant import Assistant
    from rag.embedder import SentenceTransformerEmbedder, resolve_model_path

    base = settings_for(args.device)
    ours_embedder = SentenceTransformerEmbedder(base)
    ours_embedder.embed_query("warm up")
    device = ours_embedder._device
    _, model_path = resolve_model_path(base.embedding_model)
    lc_embeddings = HuggingFaceEmbeddings(model_name=model_path, model_kwargs={"device": device})
    lc_embeddings.embed_query("warm up")
    items = load_devset(args.devset)[: args.questions]
    questions = [q.question for q in items]

    def hits(sources_per_question: list[list[str]]) -> float:
        judged = [(q, s) for q, s in zip(items, sources_per_question) if q.source]
        return round(sum(any(source_matches(x, q.source) for x in s) for q, s in judged) / len(judged), 4)

    def p(times: list[float]) -> dict[str, float]:
        return {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1)}

    out: dict = {"device": device, "machine": machine(), "torch_threads": threads, "questions": len(questions)}  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory(prefix="lc-bench-") as tmp:
        # --- corpus/: both pipelines index it fresh --------------------------------------------------------------
        settings = base.model_copy(update={"index_dir": Path(tmp) / "ours"})
        report = Indexer(settings, ours_embedder).run([args.corpus])
        assistant = Assistant(settings, embedder=ours_embedder)
        assistant.warm_up()
        files = discover([args.corpus]).targets
        started = time.perf_counter()
        docs = [Document(page_content=t.path.read_text(encoding="utf-8"), metadata={"source": t.source}) for t in files]
        chunks = Splitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
        lc_store = Chroma.from_documents(chunks, lc_embeddings, collection_name="corpus", persist_directory=str(Path(tmp) / "lc"))
        lc_ingest = time.perf_counter() - started
        lc_store.similarity_search(questions[0], k=4)
        # Interleaved per question, so that both see the same load on a shared machine.
        retrieved, found, retrieve_ms, lc_ms, ask_ms = [], [], [], [], []
        for question in questions:
            (r,), (t,) = timed(lambda q: assistant.retrieve(q, k=4), [question])
            (f,), (u,) = timed(lambda q: lc_store.similarity_search(q, k=4), [question])
            _, (a,) = timed(assistant.ask, [question])
            retrieved.append(r)
            found.append(f)
            retrieve_ms.append(t)
            lc_ms.append(u)
            ask_ms.append(a)
        ours = {"ingest_s": round(report.seconds, 2), "chunks": report.chunks_added, "retrieve_k4": p(retrieve_ms), "ask": p(ask_ms),
                "source_hit@4": hits([[x.chunk.source for x in r] for r in retrieved]), "retrieve_samples_ms": retrieve_ms, "ask_samples_ms": ask_ms}
        lc = {"ingest_s": round(lc_ingest, 2), "chunks": len(chunks), "similarity_search_k4": p(lc_ms),
              "source_hit@4": hits([[d.metadata["source"] for d in r] for r in found]), "samples_ms": lc_ms}
    out["corpus"] = {"ours": ours, "langchain": lc, "ratios": {
        "ingest_time_ours_over_lc": round(ours["ingest_s"] / lc["ingest_s"], 2),
        "retrieve_p50_ours_over_lc": round(ours["retrieve_k4"]["p50_ms"] / lc["similarity_search_k4"]["p50_ms"], 2),
        "ask_p50_ours_over_lc_search": round(ours["ask"]["p50_ms"] / lc["similarity_search_k4"]["p50_ms"], 2)}}
    print("corpus:", json.dumps({k: {kk: vv for kk, vv in v.items() if "samples" not in kk} if isinstance(v, dict) else v
                                  for k, v in out["corpus"].items()}), file=sys.stderr)

    if not args.skip_scifact:
        data = load_beir(args.data, "test")
        cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir(os.environ)
        store, n_chunks, seconds, cached = lc_scifact_index(data, lc_embeddings, cache, args.rebuild_scifact)
        run, lc_times = {}, []
        for qid, text in data.split_queries.items():
            started = time.perf_counter()
            hits40 = store.similarity_search_with_score(text, k=40)
            lc_times.append((time.perf_counter() - started) * 1000)
            ranked: dict[str, None] = {}
            for doc, _ in hits40:  # best chunk first
                ranked.setdefault(doc.metadata["doc_id"], None)
            run[qid] = list(ranked)
        lc_scores = evaluate(run, data.qrels, ("ndcg@10", "recall@10", "mrr@10"))
        ours_beir = evaluate_beir(args.data, base, split="test", embedder=ours_embedder, cache_dir=args.cache_dir, progress=True)
        out["scifact"] = {
            "langchain": {"chunks": n_chunks, "ingest_s": round(seconds, 1), "chunks_per_s": round(n_chunks / seconds, 1), "index_cached": cached,
                          **{k: round(v, 4) for k, v in lc_scores.items()}, "search_k40": p(lc_times)},
            "ours": {k: ours_beir[k] for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "chunks", "ingest_seconds",
                                               "ingest_chunks_per_s", "index_cached", "query_p50_ms", "query_p95_ms", "settings")},
        }
        o, l = out["scifact"]["ours"], out["scifact"]["langchain"]
        out["scifact"]["ratios"] = {"ndcg@10_ours_over_lc": round(o["ndcg@10"] / l["ndcg@10"], 3),
                                    "ingest_time_ours_over_lc": round(o["ingest_seconds"] / l["ingest_s"], 2),
                                    "query_p50_ours_over_lc": round(o["query_p50_ms"] / l["search_k40"]["p50_ms"], 2)}
    out["peak_rss_mb"] = round(peak_rss_mb())
    path = save("langchain_baseline.json", out)

    c = out["corpus"]
    print(f"corpus/ ({len(questions)} questions)        ours          LangChain   ratio ours/LC")
    print(f"  ingest (s)                    {c['ours']['ingest_s']:>8.1f}      {c['langchain']['ingest_s']:>8.1f}      {c['ratios']['ingest_time_ours_over_lc']:.2f}")
    print(f"  chunks                        {c['ours']['chunks']:>8}      {c['langchain']['chunks']:>8}")
    print(f"  retrieval k=4 p50/p95 (ms)    {c['ours']['retrieve_k4']['p50_ms']:>5.1f}/{c['ours']['retrieve_k4']['p95_ms']:<6.1f} "
          f"{c['langchain']['similarity_search_k4']['p50_ms']:>5.1f}/{c['langchain']['similarity_search_k4']['p95_ms']:<6.1f}  {c['ratios']['retrieve_p50_ours_over_lc']:.2f}")
    print(f"  ask (ours, with answer) p50/p95 {c['ours']['ask']['p50_ms']:>5.1f}/{c['ours']['ask']['p95_ms']:<6.1f}")
    print(f"  source hit@4                  {c['ours']['source_hit@4']:>8.3f}      {c['langchain']['source_hit@4']:>8.3f}")
    if "scifact" in out:
        s = out["scifact"]
        print("SciFact test (300 claims)")
        print(f"  nDCG@10                       {s['ours']['ndcg@10']:>8.4f}      {s['langchain']['ndcg@10']:>8.4f}      {s['ratios']['ndcg@10_ours_over_lc']:.3f}")
        print(f"  ingest (s){' (cached)' if s['ours']['index_cached'] else ''}  {s['ours']['ingest_seconds']:>8.1f}      {s['langchain']['ingest_s']:>8.1f}      {s['ratios']['ingest_time_ours_over_lc']:.2f}")
        print(f"  query p50 (ms)                {s['ours']['query_p50_ms']:>8.1f}      {s['langchain']['search_k40']['p50_ms']:>8.1f}      {s['ratios']['query_p50_ours_over_lc']:.2f}")
    print(f"saved {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
