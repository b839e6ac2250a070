"""Latency of GET /api/documents over an index of many small documents, against a real server on 127.0.0.1.

    .venv/bin/python bench/documents_list.py                # 1,000 documents of 2 passages, 200 requests
    .venv/bin/python bench/documents_list.py --documents 5000 --n 100

The store is filled through the store layer with random unit vectors (no embedding: the listing reads metadata
only, so the vectors' values do not matter), in a temp folder. Prints p50/p95/max of the wall time per request,
both as served (the list cached per index generation) and after every change of the index (rebuilt each time).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import REPO  # noqa: F401  (puts the repo on sys.path, applies the process defaults)

from evaluation.servers import serve_app
from rag import Assistant, Settings
from rag.server import create_app
from rag.store import VectorStore
from rag.types import Chunk

DIM = 384  # all-MiniLM-L6-v2 and multilingual-e5-small


def fill(store: VectorStore, documents: int, passages: int, seed: int = 0) -> None:
    """`documents` small documents of `passages` chunks each, with random unit vectors."""
    rng = np.random.default_rng(seed)
    chunks = []
    for d in range(documents):
        for p in range(passages):
            text = f"Document {d} passage {p}: the programme number {d} reported figure {rng.integers(1_000_000)}."
            meta = {"doc_hash": f"h{d}", "n_chunks": passages, "position": p, "language": "en", "date": "2025-01-01",
                    "kind": "md", "n_sentences": 1}
            chunks.append(Chunk(f"c{d}-{p}", f"bench/doc-{d:05d}.md", f"Bench document {d}", text, p * 100, p * 100 + len(text), meta))
    vectors = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for i in range(0, len(chunks), 2000):
        part = chunks[i : i + 2000]
        ids = [c.id for c in part]
        facets = [{"chunk_id": c.id, "source": c.source, "language": "en"} for c in part]
        store.multilingual.upsert(ids, vectors[i : i + 2000], facets)
        store.upsert(part, vectors[i : i + 2000])
    store.bump_generation()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--passages", type=int, default=2, help="chunks per document")
    parser.add_argument("--n", type=int, default=200, help="requests per measurement")
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(index_dir=Path(folder) / "index")
        assistant = Assistant(settings)
        started = time.perf_counter()
        fill(VectorStore(settings, assistant.embedder.name, assistant.multilingual.name, create=True), args.documents, args.passages)
        print(f"filled {args.documents} documents ({args.documents * args.passages} passages) in {time.perf_counter() - started:.1f} s")
        app = create_app(settings, assistant, chat=False)
        catalog = app.state.uploads.catalog
        with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            first = client.get("/api/documents")
            assert first.status_code == 200 and first.json()["count"] == args.documents, first.text[:300]
            for label, before in (("served (cached per generation)", None), ("after every index change", catalog.forget)):
                samples = []
                for _ in range(args.n):
                    if before:
                        before()
                    t0 = time.perf_counter()
                    response = client.get("/api/documents")
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200
                print(f"GET /api/documents, {args.documents} documents, {label}: {percentiles(samples)} ({args.n} requests)")


if __name__ == "__main__":
    main()
