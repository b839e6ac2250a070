"""Retrieval on XQuAD per language pair: nDCG@10 of each question's own paragraph, through `rag eval beir`.

    .venv/bin/python bench/xquad_retrieval.py [--xquad ../shared/bench/xquad-dev] [--split all|train|report]

Each pair becomes a BEIR folder (the document language's paragraphs as documents, the question language's
questions as queries) and runs through the product's ingest and retriever, as `python -m rag eval beir` does.
Settings come from the environment (RAG_*), so weightings can be compared: RAG_MULTILINGUAL_WEIGHT=0 ...
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, machine, save
from evaluation.beir import evaluate_beir
from evaluation.squad import DEFAULT_PAIRS, squad_files, squad_to_beir
from rag.embedder import SentenceTransformerEmbedder
from rag.multilingual import build_multilingual
from rag.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad", default=str(REPO.parent / "shared" / "bench" / "xquad-dev"))
    parser.add_argument("--split", choices=("all", "train", "report"), default="all")
    parser.add_argument("--pairs", default=",".join(DEFAULT_PAIRS))
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    settings = Settings()
    embedder, multilingual = SentenceTransformerEmbedder(settings), build_multilingual(settings)
    files = squad_files(args.xquad)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in args.pairs.split(","):
            q, _, d = pair.partition("-")
            folder = squad_to_beir(files[q], files[d], Path(tmp) / f"xquad-{pair}")
            report = evaluate_beir(folder, settings, split=args.split, embedder=embedder, multilingual=multilingual, cache_dir=args.cache_dir)
            rows.append({"pair": pair, **{k: report[k] for k in ("queries", "ndcg@10", "recall@10", "mrr@10", "query_p50_ms")}})
            print(f"{pair}: nDCG@10 {report['ndcg@10']:.4f}  recall@10 {report['recall@10']:.4f}  ({report['queries']} queries)", flush=True)
    path = save(f"xquad_retrieval_{args.split}.json", {"split": args.split, "settings": report["settings"], "rows": rows, "machine": machine()})
    print(json.dumps(rows))
    print(f"written to {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
