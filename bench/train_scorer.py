"""Train the sentence scorer (rag/answering/scorer.json) and print cross-validated figures.

    .venv/bin/python bench/train_scorer.py [--xquad ../shared/bench/xquad-dev] [--questions eval/train-questions.jsonl]

Training data, all gathered through the product (ingest's `index_documents`, `Assistant.evidence`):
- XQuAD, the **train** split only (16 of the 24 development articles; every third article is the report split
  and is never used here). Four indexes per document language: each leaves a different quarter of the
  articles out (their questions are off-topic unanswerables) and a fifth of the kept articles' paragraphs out
  (near-topic unanswerables). Pairs en-en, de-de, de-en, ru-en, en-de.
- eval/train-questions.jsonl on the shipped corpus (written for training; eval/devset.jsonl is never used).

A sentence is labelled 1 when it contains a gold answer (XQuAD) or matches the expected fact (corpus).
Cross-validation is grouped by article (XQuAD) and by corpus file, so no fold sees its own documents. The
refusal threshold is chosen on the out-of-fold probabilities (see `choose_threshold`), then the model is refit
on everything and written with its figures. Results: bench/results/scorer_training.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, results_dir
from bench.scorer_data import Run, gather_corpus, gather_xquad
from rag.answering.extractive import RELATIVE_TO_BEST
from rag.answering.features import FEATURES, with_language_split
from rag.answering.scorer import DEFAULT_PATH, LogisticModel, SentenceScorer
from rag.answering.support import SUPPORT_FEATURES, support_row

COL = {name: i for i, name in enumerate(FEATURES)}
CV_FOLDS = 5
# The shipped corpus' own questions are few (91) beside XQuAD's (4,500 runs), but they are the product's
# domain (one topic, near-miss questions): each counts ten times.
CORPUS_WEIGHT = 10.0
# Inverse regularisation strength: at 1.0 correlated features took opposite signs (e.g. a negative weight on
# the top MiniLM similarity); 0.1 keeps weights small and their signs interpretable, at no cost in CV figures.
C = 0.1
# The refusal threshold: the lowest at which, on out-of-fold predictions, at least this share of the
# questions the index cannot answer are declined (the product's promise: it does not make answers up).
TARGET_REFUSAL = 0.95


def groups_of(runs: list[Run]) -> np.ndarray:
    names = sorted({r.group for r in runs})
    index = {g: i for i, g in enumerate(names)}
    return np.array([index[r.group] for r in runs])


def fold_of_group(groups: np.ndarray, folds: int) -> np.ndarray:
    """A deterministic fold per group (hash of the group number), so every run of a group shares a fold."""
    return np.array([int(hashlib.sha1(str(g).encode()).hexdigest(), 16) % folds for g in groups])


def fit_answer_type(runs: list[Run], folds: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Logistic regression: question vector -> P(the answer holds a number). Returns coef, intercept, OOF p."""
    from sklearn.linear_model import LogisticRegression

    X = np.stack([r.vector for r in runs])
    y = np.array([r.numeric for r in runs])
    oof = np.zeros(len(runs))
    for f in range(CV_FOLDS):
        train, test = folds != f, folds == f
        model = LogisticRegression(C=1.0, max_iter=3000).fit(X[train], y[train])
        oof[test] = model.predict_proba(X[test])[:, 1]
    model = LogisticRegression(C=1.0, max_iter=3000).fit(X, y)
    print(f"answer type (number or not): CV accuracy {np.mean((oof > 0.5) == y):.3f}, base rate {y.mean():.3f}")
    return model.coef_[0], float(model.intercept_[0]), oof


def with_answer_type(run: Run, p: float) -> np.ndarray:
    rows = run.rows.copy()
    rows[:, COL["p_numeric"]] = p
    rows[:, COL["numeric_match"]] = p * run.has_number
    rows[:, COL["numeric_miss"]] = p * (1 - run.has_number)
    return rows


def fit_logistic(X: np.ndarray, y: np.ndarray, weights: np.ndarray) -> LogisticModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=5000).fit((X - mean) / scale, y, sample_weight=weights)
    return LogisticModel((), mean, scale, model.coef_[0], float(model.intercept_[0]))


def out_of_fold(X: np.ndarray, y: np.ndarray, weights: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each row's probability from a model trained without its fold."""
    oof = np.zeros(len(X))
    for f in range(CV_FOLDS):
        train = folds != f
        oof[~train] = fit_logistic(X[train], y[train], weights[train]).probabilities(X[~train])
    return oof


def chosen(probabilities: np.ndarray, relative: float, most: int = 3) -> np.ndarray:
    """Indices the extractive generator quotes (before its duplicate check)."""
    order = np.argsort(-probabilities, kind="stable")[:most]
    return order[probabilities[order] >= probabilities[order[0]] * relative]


def figures(runs: list[Run], probs: list[np.ndarray], support: np.ndarray, threshold: float, relative: float) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key in sorted({r.pair for r in runs}):
        idx = [i for i, r in enumerate(runs) if r.pair == key]
        answerable = [i for i in idx if runs[i].answerable]
        grounded = {i for i in idx if support[i] >= threshold and len(probs[i])}
        right = [i for i in answerable if i in grounded and runs[i].labels[chosen(probs[i], relative)].any()]
        row = {"answered": len(right) / len(answerable) if answerable else float("nan"),
               "false_refusals": sum(i not in grounded for i in answerable) / len(answerable) if answerable else float("nan")}
        for kind in ("absent_article", "absent_paragraph", "not_in_corpus"):
            of_kind = [i for i in idx if runs[i].kind == kind]
            if of_kind:
                row[f"refused_{kind}"] = sum(i not in grounded for i in of_kind) / len(of_kind)
        row["questions"] = len(idx)
        out[key] = {k: round(v, 4) for k, v in row.items()}
    return out


def choose_threshold(runs: list[Run], support: np.ndarray) -> float:
    """The lowest threshold that declines TARGET_REFUSAL of the questions whose article is not indexed (OOF)."""
    absent = np.array([r.kind == "absent_article" for r in runs])
    return float(np.quantile(support[absent], TARGET_REFUSAL))


def table(rows: dict[str, dict[str, float]]) -> str:
    columns = ("answered", "false_refusals", "refused_absent_article", "refused_absent_paragraph", "refused_not_in_corpus", "questions")
    lines = [f"{'pair':<12}" + "".join(f"{c.replace('refused_', 'ref. '):>22}" for c in columns)]
    for key, row in rows.items():
        lines.append(f"{key:<12}" + "".join(f"{row[c]:>22.3f}" if c in row else f"{'':>22}" for c in columns))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", default=str(REPO.parent / "shared" / "bench" / "xquad-dev"))
    parser.add_argument("--corpus", default=str(REPO / "corpus"))
    parser.add_argument("--questions", default=str(REPO / "eval" / "train-questions.jsonl"))
    parser.add_argument("--out", default=str(DEFAULT_PATH))
    parser.add_argument("--cache-dir", default=None, help="evaluation indexes (default ~/.cache/kz-ai-rag/eval)")
    parser.add_argument("--regather", action="store_true", help="ask the questions again instead of reusing bench/results/scorer_runs.pkl")
    args = parser.parse_args(argv)

    cache = results_dir() / "scorer_runs.pkl"
    if cache.exists() and not args.regather:
        runs = pickle.loads(cache.read_bytes())
        print(f"reusing {len(runs)} gathered runs from {cache} (--regather to ask again)", file=sys.stderr)
    else:
        started = time.perf_counter()
        runs = gather_xquad(Path(args.xquad), args.cache_dir) + gather_corpus(Path(args.corpus), Path(args.questions), args.cache_dir)
        cache.write_bytes(pickle.dumps(runs))
        print(f"gathered {len(runs)} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    for run in runs:  # runs gathered before the language-split copies existed: add them as the product does
        if run.rows.shape[1] != len(FEATURES):
            run.rows = with_language_split(run.rows) if len(run.rows) else np.zeros((0, len(FEATURES)), dtype=np.float32)
    groups = groups_of(runs)
    folds = fold_of_group(groups, CV_FOLDS)
    question_weights = np.array([CORPUS_WEIGHT if r.source == "corpus" else 1.0 for r in runs])
    type_coef, type_intercept, oof_type = fit_answer_type(runs, folds)
    rows = [with_answer_type(r, p) for r, p in zip(runs, oof_type)]
    lengths = [len(r) for r in rows]
    X = np.concatenate(rows)
    y = np.concatenate([r.labels for r in runs]).astype(int)
    row_weights = np.repeat(question_weights, lengths)
    probs = np.split(out_of_fold(X, y, row_weights, np.repeat(folds, lengths)), np.cumsum(lengths)[:-1])
    Q = np.stack([support_row(r, p) for r, p in zip(rows, probs)])
    answerable = np.array([r.answerable for r in runs]).astype(int)
    support = out_of_fold(Q, answerable, question_weights, folds)
    threshold = choose_threshold(runs, support)
    print(f"\ncross-validated ({CV_FOLDS} folds by article / corpus file); threshold {threshold:.3f} on P(support) declines "
          f"{TARGET_REFUSAL:.0%} of questions whose article is not indexed, out of fold")
    for relative in (1.0, 0.5, 0.35, 0.25):
        quoted = np.mean([len(chosen(p, relative)) for p, s in zip(probs, support) if len(p) and s >= threshold])
        print(f"\nquoting sentences within {relative:.0%} of the best one's probability ({quoted:.2f} sentences per answer):")
        print(table(figures(runs, probs, support, threshold, relative)))
    cv = figures(runs, probs, support, threshold, RELATIVE_TO_BEST)

    # The final models: every run (the support model on the out-of-fold sentence probabilities it was evaluated with).
    sentence = fit_logistic(X, y, row_weights)
    support_model = fit_logistic(Q, answerable, question_weights)
    info = {
        "trained": time.strftime("%Y-%m-%d"),
        "data": "XQuAD dev, train split (articles with index % 3 != 2), pairs en-en de-de de-en ru-en en-de; eval/train-questions.jsonl",
        "runs": len(runs),
        "sentences": len(X),
        "threshold_rule": f"declines {TARGET_REFUSAL:.0%} of training questions whose article is not indexed, out of fold",
        "regularisation_C": C,
        "corpus_question_weight": CORPUS_WEIGHT,
        "cross_validated": cv,
    }
    scorer = SentenceScorer(
        LogisticModel(FEATURES, sentence.mean, sentence.scale, sentence.coef, sentence.intercept),
        LogisticModel(SUPPORT_FEATURES, support_model.mean, support_model.scale, support_model.coef, support_model.intercept),
        threshold,
        runs[0].model,
        LogisticModel(("multilingual question vector",), np.zeros(0), np.zeros(0), type_coef, type_intercept),
        info,
    )
    scorer.save(Path(args.out))
    (results_dir() / "scorer_training.json").write_text(json.dumps(info, indent=1))
    print(f"\nwrote {args.out}")
    for name, model, names in (("sentence", sentence, FEATURES), ("support", support_model, SUPPORT_FEATURES)):
        ranked_weights = sorted(zip(names, model.coef), key=lambda x: -abs(x[1]))
        print(f"{name} model, standardised weights:", ", ".join(f"{n}={w:+.2f}" for n, w in ranked_weights))
    return 0


if __name__ == "__main__":
    sys.exit(main())
