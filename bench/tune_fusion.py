"""Tune the fusion weights of the four candidate lists on training data only; report held-out figures.

    .venv/bin/python bench/tune_fusion.py [--scifact ../shared/bench/scifact] [--xquad ../shared/bench/xquad-dev]

Two weightings are chosen, because the product weighs a passage by whether it shares the question's language:
- same language: selected on SciFact **train** and XQuAD's **train** split for en-en and de-de;
- other language: selected on XQuAD's **train** split for de-en, ru-en and en-de.
Reported, never selected on: SciFact test and XQuAD's report split (every third article).
Each query's four lists (English dense, multilingual chunks, multilingual sentences, BM25; `candidates` deep)
come once from the product's retriever over the product's own indexes (`rag eval beir` builds and caches
them); every weight combination on a 0.1 grid of the simplex is then replayed with `rag.fusion.convex`, chunks
collapsed to documents by their best chunk. The objective is the mean nDCG@10 over each group's selection
sets, so no one set dominates. Writes bench/results/fusion_tuning.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, default_data, results_dir
from evaluation.beir import ensure_index, load_beir
from evaluation.metrics import evaluate
from evaluation.squad import DEFAULT_PAIRS, squad_files, squad_to_beir
from rag.assistant import Assistant
from rag.embedder import SentenceTransformerEmbedder
from rag.fusion import convex, ranked
from rag.multilingual import build_multilingual
from rag.settings import Settings

NAMES = ("dense", "multilingual", "sentences", "lexical")
STEP = 10  # weights in tenths


def candidate_lists(assistant: Assistant, queries: dict[str, str], n: int, cache: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{query id: {list name: {chunk id: score}}}, kept next to the index (keyed by its generation)."""
    generation = assistant.store.generation()
    if cache.exists():
        saved = pickle.loads(cache.read_bytes())
        if saved["generation"] == generation and saved["n"] == n and set(queries) <= set(saved["lists"]):
            return saved["lists"]
    from tqdm import tqdm

    retriever = assistant.retriever
    lists = {}
    for qid, text in tqdm(queries.items(), desc="candidate lists", file=sys.stderr, dynamic_ncols=True):
        lists[qid], _ = retriever.candidates(assistant.encoder.encode(text), n)
    cache.write_bytes(pickle.dumps({"generation": generation, "n": n, "lists": lists}))
    return lists


def ndcg(lists, doc_of, qrels, weights) -> float:  # type: ignore[no-untyped-def]
    run = {}
    for qid in qrels:
        docs: dict[str, None] = {}
        for chunk_id in ranked(convex(lists[qid], weights)):
            docs.setdefault(doc_of[chunk_id], None)
        run[qid] = list(docs)
    return evaluate(run, qrels, ("ndcg@10",))["ndcg@10"]


def grid():  # type: ignore[no-untyped-def]
    for parts in itertools.product(range(STEP + 1), repeat=3):
        if sum(parts) <= STEP:
            yield dict(zip(NAMES, (*(p / STEP for p in parts), (STEP - sum(parts)) / STEP)))


def dataset(name: str, root: Path, splits: tuple[str, str], settings, embedder, multilingual, cache_dir):  # type: ignore[no-untyped-def]
    """(name, lists, doc_of, {split: qrels}) for one BEIR folder."""
    data = {split: load_beir(root, split) for split in splits}
    index = ensure_index(data[splits[0]], settings, embedder, cache_dir, progress=True, multilingual=multilingual)
    every_list = {f"{prefix}{name}_weight": 1.0 for prefix in ("", "cross_") for name in ("dense", "lexical", "multilingual", "sentence")}
    assistant = Assistant(index.settings.model_copy(update=every_list), embedder=embedder, multilingual=multilingual)
    queries = {q: t for d in data.values() for q, t in d.split_queries.items()}
    lists = candidate_lists(assistant, queries, settings.candidates, index.settings.index_dir / "fusion-candidates.pkl")
    doc_of = {chunk_id: str(meta["source"]) for chunk_id, _, meta in assistant.store.iter_records(include_documents=False)}
    return name, lists, doc_of, {split: d.qrels for split, d in data.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", default=str(default_data()))
    parser.add_argument("--xquad", default=str(REPO.parent / "shared" / "bench" / "xquad-dev"))
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    settings = Settings()
    embedder, multilingual = SentenceTransformerEmbedder(settings), build_multilingual(settings)
    sets = [dataset("scifact", Path(args.scifact), ("train", "test"), settings, embedder, multilingual, args.cache_dir)]
    files = squad_files(args.xquad)
    with tempfile.TemporaryDirectory() as tmp:
        for pair in DEFAULT_PAIRS:
            q, _, d = pair.partition("-")
            folder = Path(tmp) / f"xquad-{pair}"
            squad_to_beir(files[q], files[d], folder)
            sets.append(dataset(f"xquad {pair}", folder, ("train", "report"), settings, embedder, multilingual, args.cache_dir))

    started = time.perf_counter()
    groups = {"same": ("scifact", "xquad en-en", "xquad de-de"), "cross": ("xquad de-en", "xquad ru-en", "xquad en-de")}
    rows, best = [], {}
    for group, names in groups.items():
        chosen = [entry for entry in sets if entry[0] in names]
        for weights in grid():
            selection = {name: ndcg(lists, doc_of, qrels[next(iter(qrels))], weights) for name, lists, doc_of, qrels in chosen}
            rows.append({"group": group, "weights": weights, "selection": selection, "mean": sum(selection.values()) / len(selection)})
        best[group] = max((r for r in rows if r["group"] == group), key=lambda r: r["mean"])["weights"]
    shipped = {
        "same": {"dense": settings.dense_weight, "multilingual": settings.multilingual_weight, "sentences": settings.sentence_weight, "lexical": settings.lexical_weight},
        "cross": {"dense": settings.cross_dense_weight, "multilingual": settings.cross_multilingual_weight,
                  "sentences": settings.cross_sentence_weight, "lexical": settings.cross_lexical_weight},
    }
    candidates = {"best": best, "shipped": shipped, **{f"{n} only": {g: {m: float(m == n) for m in NAMES} for g in groups} for n in NAMES}}
    report = {}
    for label, weighting in candidates.items():
        report[label] = {"weights": weighting}
        for name, lists, doc_of, qrels in sets:
            weights = weighting["same" if name in groups["same"] else "cross"]
            for split, q in qrels.items():
                report[label][f"{name} {split}"] = round(ndcg(lists, doc_of, q, weights), 4)
    out = {"selected_on": "mean nDCG@10 over each group's train sets", "groups": groups, "best": best, "rows": rows,
           "report": report, "seconds": round(time.perf_counter() - started, 1)}
    path = results_dir() / "fusion_tuning.json"
    path.write_text(json.dumps(out, indent=1))
    columns = [c for c in report["best"] if c != "weights"]
    print(f"{'weighting':<18}" + "".join(f"{c:>20}" for c in columns))
    for label, row in report.items():
        print(f"{label:<18}" + "".join(f"{row[c]:>20.4f}" for c in columns))
    for group, weights in best.items():
        print(f"best {group}-language weights on the train sets: {weights}")
    print(f"written to {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
