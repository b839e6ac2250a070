"""How well each model's question-sentence similarity tells answerable questions from the rest (a diagnostic).

    .venv/bin/python bench/sentence_signal.py [--questions eval/train-questions.jsonl] [--corpus corpus/]
    .venv/bin/python bench/sentence_signal.py --cross-validate

On the training questions only (eval/train-questions.jsonl, written for training; the dev set is never read),
asked through the product against an index of corpus/ (bench/results/index-corpus, built if missing): for each
question, the candidate sentences `Assistant.evidence` scores, embedded again by the multilingual model (USE,
the one the scorer uses) and by the English model (MiniLM, which today only scores whole passages). Per
question language it prints
- top-1: how often the most similar sentence holds the answer (questions whose answer is among the candidates);
- within-question AUC: answer sentences against the other candidates of the same question;
- answerable AUC: the best sentence's similarity, questions whose answer is among the candidates against
  questions without an answer there (the signal a refusal decision needs), and the same for the scorer's
  P(support), which is in-sample here (the scorer was trained on these questions) and so optimistic.
Writes bench/results/sentence_signal.json.

`--cross-validate` asks whether that signal helps the scorer: on the training runs of bench/train_scorer.py
(bench/results/scorer_runs.pkl, which that script gathers), the English model's question-sentence cosine is
added where question and passage are both English (the model's language), to the sentence model (the cosine
and its gap to the best candidate) and to the support model (the best cosine, and the cosine of the most
probable sentence); both scorers are then cross-validated exactly as train_scorer.py does, side by side.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, results_dir, save


def auc(positive: list[float], negative: list[float]) -> float:
    """P(a positive scores above a negative), ties counted half."""
    if not positive or not negative:
        return float("nan")
    p, n = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def cross_validate() -> None:
    """The train_scorer.py cross-validation with and without the English model's sentence similarity."""
    import pickle

    import bench.train_scorer as train
    from rag.answering.extractive import RELATIVE_TO_BEST
    from rag.answering.support import support_row
    from rag.embedder import SentenceTransformerEmbedder
    from rag.settings import Settings

    runs = pickle.loads((results_dir() / "scorer_runs.pkl").read_bytes())
    model = SentenceTransformerEmbedder(Settings())
    texts, questions = sorted({t for r in runs for t in r.texts}), sorted({r.question for r in runs})
    sentence_vectors = dict(zip(texts, model.embed_documents(texts)))
    question_vectors = dict(zip(questions, model.embed_queries(questions)))

    def english(run) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Per candidate: the English model's cosine where question and passage are English, and its gap to the best."""
        question_language = run.pair.split("-")[1 if run.pair.startswith("corpus") else 0]
        if not run.texts:
            return np.zeros((0, 2), dtype=np.float32)
        applies = np.array([question_language == "en" and run.passages[p][2] == "en" for p, _, _ in run.context], dtype=np.float32)
        sims = np.array([sentence_vectors[t] @ question_vectors[run.question] for t in run.texts], dtype=np.float32) * applies
        return np.stack([sims, (sims - sims.max()) * applies], axis=1)

    folds = train.fold_of_group(train.groups_of(runs), train.CV_FOLDS)
    weights = np.array([train.CORPUS_WEIGHT if r.source == "corpus" else 1.0 for r in runs])
    _, _, numeric = train.fit_answer_type(runs, folds)
    base = [train.with_answer_type(r, p) for r, p in zip(runs, numeric)]
    extra = [english(r) for r in runs]
    lengths = [len(r) for r in base]
    labels = np.concatenate([r.labels for r in runs]).astype(int)
    answerable = np.array([r.answerable for r in runs]).astype(int)
    for name, rows in (("the scorer's features", base), ("+ the English model's sentence similarity", [np.hstack(p) for p in zip(base, extra)])):
        oof = train.out_of_fold(np.concatenate(rows), labels, np.repeat(weights, lengths), np.repeat(folds, lengths))
        probs = np.split(oof, np.cumsum(lengths)[:-1])
        support_rows = np.stack([support_row(r, p) for r, p in zip(base, probs)])
        if rows is not base:
            best = [[e[:, 0].max(), e[int(np.argmax(p)), 0]] if len(e) else [0.0, 0.0] for e, p in zip(extra, probs)]
            support_rows = np.hstack([support_rows, np.asarray(best)])
        support = train.out_of_fold(support_rows, answerable, weights, folds)
        threshold = train.choose_threshold(runs, support)
        print(f"\n{name} (threshold {threshold:.3f}):\n{train.table(train.figures(runs, probs, support, threshold, RELATIVE_TO_BEST))}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(REPO / "eval" / "train-questions.jsonl"))
    parser.add_argument("--corpus", default=str(REPO / "corpus"))
    parser.add_argument("--cross-validate", action="store_true", help="the scorer with and without the signal (see above)")
    args = parser.parse_args()
    if args.cross_validate:
        cross_validate()
        return 0
    from ingest import Indexer
    from rag.assistant import Assistant
    from rag.settings import Settings

    settings = Settings().model_copy(update={"index_dir": results_dir() / "index-corpus"})
    Indexer(settings).run([args.corpus], wait_seconds=600)
    assistant = Assistant(settings)
    models = {"use": assistant.multilingual, "minilm": assistant.embedder}
    rows: dict[str, dict[str, list]] = {}
    for line in Path(args.questions).read_text(encoding="utf-8").splitlines():
        question = json.loads(line)
        evidence = assistant.evidence(question["question"])
        texts = [c.text for c in evidence.candidates]
        if not texts:
            continue
        answer = question.get("answer")
        labels = np.array([bool(answer and re.search(answer, t, re.IGNORECASE)) for t in texts])
        row = rows.setdefault(question["lang"], {"top1_use": [], "top1_minilm": [], "within_use": [], "within_minilm": [],
                                                  "best_use": [], "best_minilm": [], "support": [], "answerable": []})
        for name, model in models.items():
            sims = model.embed_documents(texts) @ model.embed_query(question["question"])
            if labels.any():
                row[f"top1_{name}"].append(bool(labels[int(np.argmax(sims))]))
                if (~labels).any():
                    row[f"within_{name}"].append(auc(list(sims[labels]), list(sims[~labels])))
            row[f"best_{name}"].append(float(sims.max()))
        row["support"].append(evidence.support)
        row["answerable"].append(bool(labels.any()))
    report = {}
    for lang, row in sorted(rows.items()):
        answerable = np.asarray(row["answerable"])
        figures = {"questions": len(answerable), "answer_among_candidates": int(answerable.sum())}
        for name in (*models, "support"):
            best = np.asarray(row["support" if name == "support" else f"best_{name}"])
            figures[f"answerable_auc_{name}"] = round(auc(list(best[answerable]), list(best[~answerable])), 3)
            if name != "support":
                figures[f"top1_{name}"] = round(float(np.mean(row[f"top1_{name}"])), 3) if row[f"top1_{name}"] else None
                figures[f"within_auc_{name}"] = round(float(np.mean(row[f"within_{name}"])), 3) if row[f"within_{name}"] else None
        report[lang] = figures
        print(lang, json.dumps(figures), flush=True)
    save("sentence_signal.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
