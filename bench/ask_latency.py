"""`Assistant.ask` latency: p50/p95 over 50 questions on the shipped corpus index and on a ~10k-chunk index.

    .venv/bin/python bench/ask_latency.py [--device cpu] [--questions 50]

- corpus/: indexed (incrementally) into bench/results/index-corpus; the first 50 questions of eval/devset.jsonl.
- SciFact: the evaluation's cached index of all 5,183 abstracts (about 10k chunks; built on first use, which
  takes minutes); the first 50 test claims, asked as questions.
Each set is warmed up first (model, BM25 index); latency is wall clock per `ask`, with the engine's own split
into embed / retrieve / answer. Writes bench/results/ask_latency.json (with every sample, for docs/ plots).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, add_corpus_arguments, machine, peak_rss_mb, results_dir, save, set_threads, settings_for


def measure(assistant, questions: list[str]) -> dict:  # type: ignore[no-untyped-def, type-arg]
    from evaluation.metrics import percentile

    assistant.warm_up()
    assistant.ask(questions[0])
    totals, parts, grounded = [], {"embed": [], "retrieve": [], "answer": []}, 0
    for question in questions:
        started = time.perf_counter()
        answer = assistant.ask(question)
        totals.append((time.perf_counter() - started) * 1000)
        grounded += answer.grounded
        for key, samples in parts.items():
            samples.append(answer.timings_ms.get(key, 0.0))
    return {
        "questions": len(questions),
        "chunks": assistant.stats()["chunks"],
        "p50_ms": round(percentile(totals, 50), 1),
        "p95_ms": round(percentile(totals, 95), 1),
        "mean_ms": round(sum(totals) / len(totals), 1),
        "max_ms": round(max(totals), 1),
        "parts_p50_ms": {k: round(percentile(v, 50), 1) for k, v in parts.items()},
        "parts_p95_ms": {k: round(percentile(v, 95), 1) for k, v in parts.items()},
        "grounded": grounded,
        "samples_ms": [round(t, 2) for t in totals],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_arguments(parser)
    parser.add_argument("--threads", type=int, nargs="+", default=[0, 1],
                        help="model threads per call to measure with, in turn (0: one per core)")
    parser.add_argument("--backends", nargs="+", default=None, choices=("onnx", "onnx-int8", "torch"),
                        help="English-model runtimes to compare in this run (default: the settings' one)")
    parser.add_argument("--no-scifact", action="store_true", help="the shipped corpus only")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from evaluation.beir import ensure_index, load_beir
    from evaluation.qa import load_devset
    from ingest import Indexer
    from rag.assistant import Assistant
    from rag.embedder import SentenceTransformerEmbedder

    base = settings_for(args.device)
    backends = args.backends or [base.embedding_backend]
    embedder = SentenceTransformerEmbedder(base)
    results = {}

    corpus_settings = base.model_copy(update={"index_dir": results_dir() / "index-corpus"})
    Indexer(corpus_settings, embedder).run([args.corpus], wait_seconds=600)
    questions = [q.question for q in load_devset(args.devset)][: args.questions]
    sets = [("corpus", corpus_settings, questions)]
    if not args.no_scifact:
        data = load_beir(args.data, "test")
        index = ensure_index(data, base, embedder, args.cache_dir, progress=True)
        sets.append(("scifact", index.settings, list(data.split_queries.values())[: args.questions]))
    default_threads = set_threads(None)
    for threads in args.threads:
        n = set_threads(threads or default_threads)
        for backend in backends:
            # The backend's own embedder with `n` threads (ONNX Runtime fixes its threads when it loads a model);
            # the multilingual model (numpy BLAS) takes the same count.
            run = {"torch_threads": n, "embedding_backend": backend}
            model = SentenceTransformerEmbedder(base.model_copy(update=run))
            for name, settings, asked in sets:
                key = f"{name}/{backend}/threads={n}"
                results[key] = measure(Assistant(settings.model_copy(update=run), embedder=model), asked)
                results[key].update(run)
                print(key, json.dumps({k: v for k, v in results[key].items() if k != "samples_ms"}), file=sys.stderr)

    out = {"device": args.device, "machine": machine(), "peak_rss_mb": round(peak_rss_mb()), **results}
    path = save("ask_latency.json", out)
    print(f"{'index':<28} {'chunks':>6} {'questions':>9} {'p50 ms':>7} {'p95 ms':>7}  p50 embed/retrieve/answer ms")
    for name, r in results.items():
        p = r["parts_p50_ms"]
        print(f"{name:<28} {r['chunks']:>6} {r['questions']:>9} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f}  {p['embed']}/{p['retrieve']}/{p['answer']}")
    print(f"saved {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
