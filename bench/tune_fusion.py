"""Tune fusion on SciFact **train** (selection never looks at test); print train and test nDCG@10 for every config.

    .venv/bin/python bench/tune_fusion.py [--data ../shared/bench/scifact] [--device cpu]

Each query's dense and BM25 candidate lists (1000 deep) are taken once from the product's cached SciFact index
(the same store and BM25 index `python -m rag eval beir` uses), then every fusion configuration is replayed
offline with `rag.evaluate.fusion`, chunks collapsed to documents by their best chunk. Writes
bench/results/fusion_tuning.json; `bench/plots.py` draws docs/ndcg_by_config.png from it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, default_data, results_dir, settings_for
from rag.evaluate.beir import DEFAULT_DEPTH, ensure_index, load_beir
from rag.evaluate.fusion import fuse
from rag.evaluate.metrics import evaluate

POOL = 1000


def candidate_lists(assistant, queries: dict[str, str], pool: int, cache: Path):  # type: ignore[no-untyped-def]
    """{qid: (dense [(chunk id, cosine)], bm25 [(chunk id, score)])}, cached next to the index."""
    import rag.text

    generation = f"{assistant.store.generation()}|tokenizer={getattr(rag.text, 'TOKENIZER_VERSION', '1')}"
    if cache.exists():
        saved = pickle.loads(cache.read_bytes())
        if saved["generation"] == generation and saved["pool"] == pool and set(queries) <= set(saved["lists"]):
            return saved["lists"]
    from tqdm import tqdm

    lexical = assistant.retriever.lexical()
    vectors = assistant.embedder.embed_queries(list(queries.values()))
    lists = {}
    for (qid, text), vector in tqdm(list(zip(queries.items(), vectors)), desc="candidate lists", file=sys.stderr):
        dense = [(c.id, s) for c, s in assistant.store.query(vector, pool)]
        lists[qid] = (dense, lexical.search(text, pool))
    cache.write_bytes(pickle.dumps({"generation": generation, "pool": pool, "lists": lists}))
    return lists


_DEEP: dict = {}  # type: ignore[type-arg]


def _ranked_docs(lists, doc_of, qrels, method: str, n: int, params: dict) -> dict[str, list[str]]:  # type: ignore[no-untyped-def, type-arg]
    run = {}
    for qid in qrels:
        dense, lexical = lists[qid]
        if params.get("dense_weight", 1) == 0:
            dense = []
        if params.get("lexical_weight", 1) == 0:
            lexical = []
        docs: dict[str, None] = {}
        for chunk_id, _ in fuse(dense[:n], lexical[:n], method, **params):
            docs.setdefault(doc_of[chunk_id], None)
        run[qid] = list(docs)
    return run


def replay(lists, doc_of, qrels, method: str, candidates: int, depth: int = DEFAULT_DEPTH, **params) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The product's two calls replayed: top (candidates chunks) for @10, deep (max(candidates, depth)) for recall@100."""
    top = evaluate(_ranked_docs(lists, doc_of, qrels, method, candidates, params), qrels, ("ndcg@10", "recall@10", "mrr@10"))
    n = max(candidates, depth)
    key = (id(qrels), method, n, tuple(sorted(params.items())))
    if key not in _DEEP:
        _DEEP[key] = evaluate(_ranked_docs(lists, doc_of, qrels, method, n, params), qrels, ("recall@100",))["recall@100"]
    return {**top, "recall@100": _DEEP[key]}


def configurations():  # type: ignore[no-untyped-def]
    yield "dense only", "rrf", 50, {"rrf_k": 60, "dense_weight": 1, "lexical_weight": 0}
    yield "bm25 only", "rrf", 50, {"rrf_k": 60, "dense_weight": 0, "lexical_weight": 1}
    for rrf_k, wl, candidates in itertools.product((1, 5, 10, 20, 40, 60, 100), (0.5, 0.75, 1.0, 1.25, 1.5, 2.0), (20, 50, 100, 200)):
        yield f"rrf k={rrf_k} wl={wl} c={candidates}", "rrf", candidates, {"rrf_k": rrf_k, "dense_weight": 1.0, "lexical_weight": wl}
    for how, alpha, candidates in itertools.product(("minmax", "tmm", "zscore"), [round(0.1 * i, 1) for i in range(1, 10)], (20, 50, 100, 200, 1000)):
        yield f"convex {how} a={alpha} c={candidates}", "convex", candidates, {"how": how, "dense_weight": alpha, "lexical_weight": round(1 - alpha, 1)}
    # Finer steps around the best weights, and the dense floor at 0 instead of -1.
    for dense_min, alpha, candidates in itertools.product((-1.0, 0.0), (0.725, 0.75, 0.775, 0.825, 0.85, 0.875), (50, 100, 200)):
        yield (f"convex tmm{'' if dense_min == -1 else '0'} a={alpha} c={candidates}", "convex", candidates,
               {"how": "tmm", "dense_min": dense_min, "dense_weight": alpha, "lexical_weight": round(1 - alpha, 3)})
    for alpha, candidates in itertools.product((0.7, 0.8, 0.9), (50, 100, 200)):
        yield (f"convex tmm0 a={alpha} c={candidates}", "convex", candidates,
               {"how": "tmm", "dense_min": 0.0, "dense_weight": alpha, "lexical_weight": round(1 - alpha, 3)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(default_data()), help="BEIR SciFact folder")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"))
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    from rag.assistant import Assistant
    from rag.embedder import SentenceTransformerEmbedder

    settings = settings_for(args.device)
    embedder = SentenceTransformerEmbedder(settings)
    train, test = load_beir(args.data, "train"), load_beir(args.data, "test")
    index = ensure_index(train, settings, embedder, args.cache_dir, progress=True)
    assistant = Assistant(index.settings, embedder=embedder)
    queries = {**train.split_queries, **test.split_queries}
    lists = candidate_lists(assistant, queries, POOL, index.settings.index_dir / f"candidates-{POOL}.pkl")
    doc_of = {chunk_id: str(meta["source"]) for chunk_id, _, meta in assistant.store.iter_records(include_documents=False)}

    started = time.perf_counter()
    rows = []
    for name, method, candidates, params in configurations():
        tr = replay(lists, doc_of, train.qrels, method, candidates, **params)
        te = replay(lists, doc_of, test.qrels, method, candidates, **params)
        rows.append({"name": name, "method": method, "candidates": candidates, **params,
                     "train": {k: round(v, 4) for k, v in tr.items()}, "test": {k: round(v, 4) for k, v in te.items()}})
    best = {}
    for family in ("rrf", "convex"):
        pool = [r for r in rows if r["method"] == family and r.get("dense_weight") and r.get("lexical_weight")]
        best[family] = max(pool, key=lambda r: (r["train"]["ndcg@10"], r["train"]["recall@100"]))["name"]
    default = next(r for r in rows if r["name"] == "rrf k=60 wl=1.0 c=50")
    out = {"data": str(args.data), "chunks": index.chunks, "pool": POOL, "selected_on": "train ndcg@10",
           "best": best, "default": default["name"], "rows": rows, "seconds": round(time.perf_counter() - started, 1)}
    path = results_dir() / "fusion_tuning.json"
    path.write_text(json.dumps(out, indent=1))
    show = [r for r in rows if r["name"] in ("dense only", "bm25 only", default["name"], *best.values())]
    print(f"{'configuration':<34} {'train nDCG@10':>13} {'test nDCG@10':>12} {'test R@100':>10}")
    for r in show:
        print(f"{r['name']:<34} {r['train']['ndcg@10']:>13.4f} {r['test']['ndcg@10']:>12.4f} {r['test']['recall@100']:>10.4f}")
    print(f"best on train: {best}; all {len(rows)} rows in {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
