"""Tune the fusion weights of the four candidate lists on training data only; report held-out figures.

    .venv/bin/python bench/tune_fusion.py [--scifact ../shared/bench/scifact] [--xquad ../shared/bench/xquad-dev]

Two weightings are chosen, because the product weighs a passage by whether it and the question are both in
the English model's language (English):
- English on English: selected on SciFact **train** and XQuAD's **train** split for en-en;
- every other pair, given the first: selected on XQuAD's **train** split for de-de, de-en, ru-en and en-de, and
  for mixed-language indexes (each article in English, German or Russian) asked in each of the three, where
  passages in the question's language compete with passages in others.
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


def ndcg(lists, doc_of, qrels, weights, cross_weights=None, cross=frozenset()) -> float:  # type: ignore[no-untyped-def]
    """nDCG@10 of the fused lists; chunks in `cross` (another language than the question) take `cross_weights`."""
    run = {}
    for qid in qrels:
        docs: dict[str, None] = {}
        for chunk_id in ranked(convex(lists[qid], weights, cross_weights=cross_weights, cross=cross & set().union(*lists[qid].values()))):
            docs.setdefault(doc_of[chunk_id], None)
        run[qid] = list(docs)
    return evaluate(run, qrels, ("ndcg@10",))["ndcg@10"]


def mixed_beir(files: dict[str, Path], question_language: str, out: Path) -> Path:
    """A BEIR folder over an index whose articles are in English, German or Russian (scorer_data.mixed_language),
    asked in `question_language`: ranking has to weigh passages in the question's language against others."""
    from bench.scorer_data import mixed_language
    from evaluation.squad import load_squad

    articles = {lang: load_squad(path) for lang, path in files.items() if lang in ("en", "de", "ru")}
    documents = out / "documents.json"
    out.mkdir(parents=True, exist_ok=True)
    mixed = [articles[mixed_language(a.index)][n] for n, a in enumerate(articles["en"])]
    data = {"data": [{"title": a.title, "paragraphs": [{"context": c, "qas": [
        {"id": q.id, "question": q.question, "answers": [{"text": t, "answer_start": 0} for t in q.answers]}
        for q in a.questions if q.paragraph == p]} for p, c in enumerate(a.paragraphs)]} for a in mixed]}
    documents.write_text(json.dumps(data, ensure_ascii=False))
    return squad_to_beir(files[question_language], documents, out)


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
    records = list(assistant.store.iter_records(include_documents=False))
    doc_of = {chunk_id: str(meta["source"]) for chunk_id, _, meta in records}
    language = name.split()[-1].partition("-")[0] if name.startswith("xquad") else "en"
    # The product's rule (HybridRetriever._other_weighting): the first weighting only for English on English.
    cross = frozenset(chunk_id for chunk_id, _, meta in records if not (language == "en" and str(meta.get("language") or language) == "en"))
    return name, lists, doc_of, {split: d.qrels for split, d in data.items()}, cross


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
        for q in ("en", "de", "ru"):
            folder = mixed_beir(files, q, Path(tmp) / f"xquad-{q}-mix")
            sets.append(dataset(f"xquad {q}-mix", folder, ("train", "report"), settings, embedder, multilingual, args.cache_dir))

    started = time.perf_counter()
    # Same-language weights first (sets with one language); then the weights of passages in another language,
    # given those, on the cross-language sets and on mixed-language indexes, where the two weightings compete.
    groups = {"same": ("scifact", "xquad en-en"),
              "cross": ("xquad de-de", "xquad de-en", "xquad ru-en", "xquad en-de", "xquad en-mix", "xquad de-mix", "xquad ru-mix")}
    rows, best = [], {}
    for group, names in groups.items():
        chosen = [entry for entry in sets if entry[0] in names]
        for weights in grid():
            same, other = (weights, weights) if group == "same" else (best["same"], weights)
            selection = {name: ndcg(lists, doc_of, qrels[next(iter(qrels))], same, other, cross) for name, lists, doc_of, qrels, cross in chosen}
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
        for name, lists, doc_of, qrels, cross in sets:
            for split, q in qrels.items():
                report[label][f"{name} {split}"] = round(ndcg(lists, doc_of, q, weighting["same"], weighting["cross"], cross), 4)
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
