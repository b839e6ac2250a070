"""Retrieval quality on a BEIR-format data set, measured through the product's own ingest and retrieval.

    from evaluation.beir import evaluate_beir
    report = evaluate_beir("../shared/bench/scifact", Settings(), split="test")

The corpus is chunked, embedded and stored by ingest's public `index_documents` into an index of its own under
the evaluation cache (`RAG_EVAL_CACHE_DIR`, else `$XDG_CACHE_HOME/kz-ai-rag/eval`, else
`~/.cache/kz-ai-rag/eval`), keyed by the corpus bytes, the embedding models and the chunking settings: a second
run (or a run with other fusion settings) reuses it without embedding anything.

Every query of the split goes through `HybridRetriever.retrieve` exactly as a question would, taking
`settings.candidates` chunks (what the product fuses); chunk hits collapse to documents by their best chunk
(max over chunks, then documents ranked). nDCG/recall/MRR@k come from that ranking. recall@100 needs a
deeper list, so it comes from a second call asking for `depth` chunks (the retriever then takes
`max(candidates, depth)` candidates from each side), with the same query embedding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.embedder import Embedder, SentenceTransformerEmbedder
from rag.errors import ConfigError, EmptyIndex
from rag.multilingual import build_multilingual
from rag.settings import Settings
from rag.store import VectorStore
from rag.types import Document, Passage

from .metrics import evaluate, per_query, percentile

log = logging.getLogger(__name__)

EVAL_COLLECTION = "beir_eval"
DEFAULT_DEPTH = 300
MARKER = "eval-index.json"


@dataclass(frozen=True)
class BeirData:
    """A BEIR data set: corpus {doc id: (title, text)}, all queries {id: text}, and one split's qrels."""

    root: Path
    name: str
    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str

    @property
    def split_queries(self) -> dict[str, str]:
        """The queries judged in this split (as BEIR's GenericDataLoader keeps them), in qrels order."""
        return {qid: self.queries[qid] for qid in self.qrels if qid in self.queries}


def _qrels_path(root: Path, split: str) -> Path:
    for candidate in (root / "qrels" / f"{split}.tsv", root / f"qrels-{split}.tsv", root / f"qrels_{split}.tsv"):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no qrels for split {split!r} in {root} (looked for qrels/{split}.tsv and qrels-{split}.tsv)")


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise ConfigError(f"{path}:{n}: not JSON ({exc})") from exc


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\r\n").split("\t")
            if n == 1 and parts[0].lower() in ("query-id", "query_id", "qid"):
                continue
            if len(parts) < 3 or not parts[0]:
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(float(parts[2]))
    return qrels


def load_beir(root: str | Path, split: str = "test") -> BeirData:
    root = Path(root)
    if not (root / "corpus.jsonl").is_file() or not (root / "queries.jsonl").is_file():
        raise ConfigError(f"{root} is not a BEIR folder: it needs corpus.jsonl, queries.jsonl and qrels")
    corpus = {str(d["_id"]): (str(d.get("title") or ""), str(d.get("text") or "")) for d in _jsonl(root / "corpus.jsonl")}
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(root / "queries.jsonl")}
    qrels = load_qrels(_qrels_path(root, split))
    return BeirData(root, root.resolve().name, corpus, queries, qrels, split)


# --- the cached index -----------------------------------------------------------------------------------------
def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where evaluation indexes are kept: `RAG_EVAL_CACHE_DIR`, else `$XDG_CACHE_HOME/kz-ai-rag/eval`, else
    `~/.cache/kz-ai-rag/eval`; `environ` is the entry point's environment (none: the home default)."""
    environ = environ or {}
    if environ.get("RAG_EVAL_CACHE_DIR"):
        return Path(environ["RAG_EVAL_CACHE_DIR"]).expanduser()
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kz-ai-rag" / "eval"


def corpus_hash(root: Path) -> str:
    digest = hashlib.sha256()
    with (root / "corpus.jsonl").open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def index_key(data: BeirData, settings: Settings, model_name: str) -> str:
    """Folder name of the cached index: changes with the corpus, the model, or anything chunking depends on."""
    from ingest.chunk import CHUNKER_VERSION

    digest = hashlib.sha256(corpus_hash(data.root).encode())
    digest.update(
        f"|{model_name}|{settings.embedding_model}|chunker={CHUNKER_VERSION}|{settings.chunk_words}|"
        f"{settings.chunk_overlap_words}|{settings.passage_prefix}".encode()
    )
    # torch and onnx (fp32) make the same vectors (cosine 1.00000, tests/test_embedder_backends.py): one index.
    if settings.embedding_backend not in ("torch", "onnx"):
        from rag.onnx_export import recipe

        digest.update(f"|backend={settings.embedding_backend}|{recipe(settings.embedding_backend)}".encode())
    return f"{data.name}-{digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class IndexInfo:
    settings: Settings  # the caller's settings pointed at the cached index
    documents: int
    chunks: int
    ingest_seconds: float
    cached: bool

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.ingest_seconds if self.ingest_seconds > 0 else 0.0


def eval_settings(settings: Settings, index_dir: Path) -> Settings:
    return settings.model_copy(update={"index_dir": index_dir, "collection": EVAL_COLLECTION, "chroma_url": None})


def ensure_index(
    data: BeirData,
    settings: Settings,
    embedder: Embedder,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    multilingual: Embedder | None = None,
) -> IndexInfo:
    """The data set's index, built on first use and reused while the corpus, models and chunking are the same.

    Built by ingest's public `index_documents`, so the evaluation measures exactly what ingest stores."""
    from ingest import index_documents

    multilingual = multilingual or build_multilingual(settings)
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    target = eval_settings(settings, root / index_key(data, settings, f"{embedder.name}+{multilingual.name}"))
    cached = _cached(target, embedder, multilingual)
    if cached is not None:
        return cached
    documents = [Document(source=doc_id, title=title, text=text) for doc_id, (title, text) in data.corpus.items() if text.strip()]
    report = index_documents(documents, target, embedder, multilingual, rebuild=True, progress=progress)
    chunks = report.chunks_added
    info = {
        "dataset": data.name,
        "documents": len(documents),
        "chunks": chunks,
        "ingest_seconds": report.seconds,
        "model": embedder.name,
        "multilingual_model": multilingual.name,
        "chunk_words": settings.chunk_words,
        "chunk_overlap_words": settings.chunk_overlap_words,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (target.index_dir / MARKER).write_text(json.dumps(info, indent=1))
    log.info("indexed %d documents, %d chunks in %.1fs", len(documents), chunks, report.seconds)
    return IndexInfo(target, len(documents), chunks, report.seconds, cached=False)


def _cached(settings: Settings, embedder: Embedder, multilingual: Embedder) -> IndexInfo | None:
    marker = settings.index_dir / MARKER
    try:
        info = json.loads(marker.read_text())
        store = VectorStore(settings, embedder.name, multilingual.name)
        if store.count() != info["chunks"]:
            log.warning("cached index %s has %d chunks, expected %d: rebuilding", settings.index_dir, store.count(), info["chunks"])
            return None
    except (OSError, ValueError, KeyError, EmptyIndex, ConfigError):
        return None
    return IndexInfo(settings, int(info["documents"]), int(info["chunks"]), float(info["ingest_seconds"]), cached=True)


# --- running the queries --------------------------------------------------------------------------------------
def documents_ranked(passages: Sequence[Passage]) -> list[str]:
    """Document ids ranked by their best chunk (passages come best first, so the first hit of a doc is its max)."""
    seen: dict[str, None] = {}
    for passage in passages:
        seen.setdefault(passage.chunk.source, None)
    return list(seen)


@dataclass
class QueryRun:
    top: dict[str, list[str]]  # query id -> documents ranked from `candidates` chunks
    deep: dict[str, list[str]]  # query id -> documents ranked from `depth` chunks
    latencies_ms: list[float]  # embed + retrieve of the top call, per query


def run_queries(assistant, queries: dict[str, str], depth: int = DEFAULT_DEPTH, progress: bool = False) -> QueryRun:  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from rag.assistant import clean_question

    settings = assistant.settings
    retriever = assistant.retriever
    assistant.warm_up()
    run = QueryRun({}, {}, [])
    for qid, question in tqdm(queries.items(), unit="q", desc="queries", file=sys.stderr, disable=not progress, dynamic_ncols=True):
        text = clean_question(question, settings.max_question_chars)
        started = time.perf_counter()
        query = assistant.encoder.encode(text)
        passages = retriever.retrieve(query, settings.candidates)
        run.latencies_ms.append((time.perf_counter() - started) * 1000)
        run.top[qid] = documents_ranked(passages)
        if depth > settings.candidates:
            passages = retriever.retrieve(query, depth)
        run.deep[qid] = documents_ranked(passages)
    return run


def score_run(run: QueryRun, qrels: dict[str, dict[str, int]], k: int = 10) -> dict[str, float]:
    top = evaluate(run.top, qrels, (f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"))
    deep = evaluate(run.deep, qrels, ("recall@100",))
    return {f"ndcg@{k}": top[f"ndcg@{k}"], f"recall@{k}": top[f"recall@{k}"], "recall@100": deep["recall@100"], f"mrr@{k}": top[f"mrr@{k}"]}


def evaluate_beir(
    root: str | Path,
    settings: Settings,
    *,
    split: str = "test",
    k: int = 10,
    depth: int = DEFAULT_DEPTH,
    embedder: Embedder | None = None,
    multilingual: Embedder | None = None,
    cache_dir: str | Path | None = None,
    limit: int | None = None,
    progress: bool = False,
    details: bool = False,
    fusion: str | None = None,
) -> dict[str, Any]:
    """Index (or reuse) the corpus, run the split's queries, and report the metrics with timings.

    `fusion` ("rrf" or "convex") overrides the `fusion` setting for this run; the index is the same either way.
    """
    from rag.assistant import Assistant

    embedder = embedder or SentenceTransformerEmbedder(settings)
    multilingual = multilingual or build_multilingual(settings)
    data = load_beir(root, split)
    index = ensure_index(data, settings, embedder, cache_dir, progress, multilingual)
    queries = data.split_queries
    if limit:
        queries = dict(list(queries.items())[:limit])
    qrels = {q: data.qrels[q] for q in queries}
    run_settings = index.settings.model_copy(update={"fusion": fusion}) if fusion else index.settings
    assistant = Assistant(run_settings, embedder=embedder, multilingual=multilingual)
    run = run_queries(assistant, queries, depth, progress)
    report: dict[str, Any] = {
        "dataset": data.name,
        "split": split,
        "queries": len(queries),
        **{m: round(v, 4) for m, v in score_run(run, qrels, k).items()},
        "documents": index.documents,
        "chunks": index.chunks,
        "ingest_seconds": round(index.ingest_seconds, 1),
        "ingest_chunks_per_s": round(index.chunks_per_second, 1),
        "index_cached": index.cached,
        "query_p50_ms": round(percentile(run.latencies_ms, 50), 1),
        "query_p95_ms": round(percentile(run.latencies_ms, 95), 1),
        "depth": depth,
        "settings": {
            "embedding_model": embedder.name,
            "chunk_words": settings.chunk_words,
            "chunk_overlap_words": settings.chunk_overlap_words,
            "candidates": settings.candidates,
            "rrf_k": settings.rrf_k,
            "dense_weight": settings.dense_weight,
            "lexical_weight": settings.lexical_weight,
            "multilingual_weight": settings.multilingual_weight,
            "sentence_weight": settings.sentence_weight,
            "multilingual_model": multilingual.name,
        },
        "index_dir": str(index.settings.index_dir),
    }
    report["settings"]["fusion"] = run_settings.fusion
    if details:
        report["per_query"] = {
            qid: {**scores, "ranking": run.top[qid][:k], "relevant": sorted(qrels[qid])}
            for qid, scores in per_query(run.top, qrels, (f"ndcg@{k}",)).items()
        }
    return report
