"""Scale: ~100k chunks in the embedded store and on a `chroma run` server — load time, disk, query latency, RSS.

    .venv/bin/python bench/scale.py [--copies 10] [--questions 50] [--skip-server]

No re-embedding: it takes the SciFact evaluation index (built by `python -m rag eval beir`, cached under
~/.cache/kz-ai-rag/eval) and writes it `--copies` times with changed ids into a fresh store, through the same
VectorStore the product uses, then builds the BM25 index and asks questions through `Assistant.ask`.
Loopback only; bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evaluation.beir import default_cache_dir
from rag import Assistant, Settings
from rag.embedder import SentenceTransformerEmbedder
from rag.store import VectorStore, record_to_chunk

QUESTIONS = [json.loads(line)["text"] for line in (REPO.parent / "shared/bench/scifact/queries.jsonl").open()][:200]


def source_index() -> Path:
    root = default_cache_dir(os.environ)
    found = sorted(p for p in root.glob("scifact-*") if (p / "chroma").is_dir())
    if not found:
        raise SystemExit("no SciFact evaluation index: run `python -m rag eval beir ../shared/bench/scifact` first")
    return found[0]


def read_all(settings: Settings, name: str):  # type: ignore[no-untyped-def]
    store = VectorStore(settings, name)
    collection = store._collection
    ids, docs, metas, vectors = [], [], [], []
    offset = 0
    while True:
        batch = collection.get(include=["documents", "metadatas", "embeddings"], limit=2000, offset=offset)
        if not batch["ids"]:
            break
        ids += batch["ids"]
        docs += batch["documents"]
        metas += batch["metadatas"]
        vectors.append(np.asarray(batch["embeddings"], dtype=np.float32))
        offset += len(batch["ids"])
    return ids, docs, metas, np.concatenate(vectors)


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def measure(settings: Settings, embedder, records, copies: int, questions: int) -> dict:  # type: ignore[no-untyped-def]
    ids, docs, metas, vectors = records
    store = VectorStore(settings, embedder.name, create=True)
    started = time.perf_counter()
    for copy in range(copies):
        chunks = [record_to_chunk(f"{i}-{copy}", d, {**m, "source": f"{m['source']}#{copy}"}) for i, d, m in zip(ids, docs, metas)]
        store.upsert(chunks, vectors)
    store.bump_generation()
    load_s = time.perf_counter() - started
    assistant = Assistant(settings, embedder=embedder)
    started = time.perf_counter()
    assistant.warm_up()  # builds the BM25 index over every chunk
    bm25_s = time.perf_counter() - started
    times = []
    for question in QUESTIONS[:questions]:
        t0 = time.perf_counter()
        assistant.ask(question)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "chunks": store.count(),
        "load_s": round(load_s, 1),
        "bm25_build_s": round(bm25_s, 1),
        "ask_p50_ms": round(statistics.median(times), 1),
        "ask_p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    from evaluation.beir import EVAL_COLLECTION

    source = Settings(index_dir=source_index(), collection=EVAL_COLLECTION)
    embedder = SentenceTransformerEmbedder(Settings(torch_threads=int(os.environ.get("RAG_TORCH_THREADS", "1"))))
    records = read_all(source, embedder.name)
    print(f"source: {len(records[0])} chunks x {args.copies} copies", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        embedded = Settings(index_dir=Path(tmp) / "embedded")
        results["embedded"] = measure(embedded, embedder, records, args.copies, args.questions)
        results["embedded"]["disk_mb"] = round(disk_mb(embedded.index_dir), 1)
        print("embedded:", json.dumps(results["embedded"]), flush=True)
        if not args.skip_server:
            from evaluation.servers import chroma_server  # a real `chroma run` on 127.0.0.1

            data = Path(tmp) / "server-data"
            with chroma_server(data, timeout=120) as url:
                server = Settings(index_dir=Path(tmp) / "server-local", chroma_url=url)
                results["server"] = measure(server, embedder, records, args.copies, args.questions)
                results["server"]["disk_mb"] = round(disk_mb(data), 1)
            print("server:", json.dumps(results["server"]), flush=True)
    out = REPO / "bench" / "results" / "scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
