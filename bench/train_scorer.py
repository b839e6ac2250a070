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
from bench.logistic import fit_bounded
from rag.answering.answer_types import KINDS, kinds_of
from rag.answering.extension import EXTENSION_FEATURES, extension_row, neighbours
from rag.answering.features import FEATURES, SIGNS, sign_of
from rag.answering.scorer import DEFAULT_PATH, LogisticModel, SentenceScorer
from rag.answering.support import SUPPORT_FEATURES, SUPPORT_SIGNS, support_row

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
# With an LLM writing the answers, each of its sentences must verify against the passage it cites, and an
# answer that does not verify is declined (below the quoting threshold): the evidence step then only holds back
# what is clearly off the index, at the threshold that declines this share of the absent-article questions.
LLM_TARGET_REFUSAL = 0.80
# A neighbour of the best sentence is quoted too when, out of fold, at least this share of the neighbours so
# added hold the answer the best sentence lacks: one extra sentence to read is worth a one-in-three chance of
# turning a non-answer into the answer.
EXTENSION_PRECISION = 1 / 3


def groups_of(runs: list[Run]) -> np.ndarray:
    names = sorted({r.group for r in runs})
    index = {g: i for i, g in enumerate(names)}
    return np.array([index[r.group] for r in runs])


def fold_of_group(groups: np.ndarray, folds: int) -> np.ndarray:
    """A deterministic fold per group (hash of the group number), so every run of a group shares a fold."""
    return np.array([int(hashlib.sha1(str(g).encode()).hexdigest(), 16) % folds for g in groups])


def fit_answer_kinds(runs: list[Run], folds: np.ndarray) -> tuple[dict[str, LogisticModel], list[dict[str, float]]]:
    """Per answer kind, logistic regression: question vector -> P(the gold answer is of that kind), fit on the
    questions that have a gold answer. Returns the final models and each run's out-of-fold probabilities."""
    from sklearn.linear_model import LogisticRegression

    X = np.stack([r.vector for r in runs])
    labelled = np.array([bool(r.answers) for r in runs])
    models: dict[str, LogisticModel] = {}
    oof = [dict.fromkeys(KINDS, 0.5) for _ in runs]
    for kind in KINDS:
        y = np.array([any(kinds_of(a)[kind] for a in r.answers) for r in runs])
        p = np.zeros(len(runs))
        for f in range(CV_FOLDS):
            train, test = (folds != f) & labelled, folds == f
            p[test] = LogisticRegression(C=1.0, max_iter=3000).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        final = LogisticRegression(C=1.0, max_iter=3000).fit(X[labelled], y[labelled])
        models[kind] = LogisticModel(("multilingual question vector",), np.zeros(0), np.zeros(0), final.coef_[0], float(final.intercept_[0]))
        for row, value in zip(oof, p):
            row[kind] = float(value)
        accuracy = np.mean((p[labelled] > 0.5) == y[labelled])
        print(f"answer kind {kind}: CV accuracy {accuracy:.3f}, base rate {y[labelled].mean():.3f}")
    return models, oof


SENTENCE_BOUNDS = [sign_of(n, SIGNS) for n in FEATURES]
SUPPORT_BOUNDS = [sign_of(n, SUPPORT_SIGNS) for n in SUPPORT_FEATURES]


def fit_logistic(X: np.ndarray, y: np.ndarray, weights: np.ndarray, signs: list[int]) -> LogisticModel:
    return fit_bounded(X, y, weights, signs, C)


def out_of_fold(X: np.ndarray, y: np.ndarray, weights: np.ndarray, folds: np.ndarray, signs: list[int]) -> np.ndarray:
    """Each row's probability from a model trained without its fold."""
    oof = np.zeros(len(X))
    for f in range(CV_FOLDS):
        train = folds != f
        oof[~train] = fit_logistic(X[train], y[train], weights[train], signs).probabilities(X[~train])
    return oof


def chosen(probabilities: np.ndarray, relative: float, most: int = 3) -> np.ndarray:
    """Indices the extractive generator quotes (before its duplicate check)."""
    order = np.argsort(-probabilities, kind="stable")[:most]
    return order[probabilities[order] >= probabilities[order[0]] * relative]


def quoted(probs: np.ndarray, extensions: list[int], relative: float) -> list[int]:
    """What the extractive answer quotes: the best sentence, its needed neighbours, others within `relative`."""
    return sorted({*chosen(probs, relative).tolist(), *extensions})


def figures(
    runs: list[Run], probs: list[np.ndarray], support: np.ndarray, threshold: float, relative: float, extended: dict[int, list[int]]
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key in sorted({r.pair for r in runs}):
        idx = [i for i, r in enumerate(runs) if r.pair == key]
        answerable = [i for i in idx if runs[i].answerable]
        grounded = {i for i in idx if support[i] >= threshold and len(probs[i])}
        right = [i for i in answerable if i in grounded and runs[i].labels[quoted(probs[i], extended.get(i, []), relative)].any()]
        row = {"answered": len(right) / len(answerable) if answerable else float("nan"),
               "false_refusals": sum(i not in grounded for i in answerable) / len(answerable) if answerable else float("nan")}
        for kind in ("absent_article", "absent_paragraph", "not_in_corpus"):
            of_kind = [i for i in idx if runs[i].kind == kind]
            if of_kind:
                row[f"refused_{kind}"] = sum(i not in grounded for i in of_kind) / len(of_kind)
        row["questions"] = len(idx)
        out[key] = {k: round(v, 4) for k, v in row.items()}
    return out


def extension_data(runs: list[Run], rows: list[np.ndarray], probs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Rows of EXTENSION_FEATURES for each neighbour of each run's best sentence, labels (the neighbour holds the
    answer, the best sentence does not) and (run, neighbour) of each row."""
    X, y, owners = [], [], []
    for i, (run, r, p) in enumerate(zip(runs, rows, probs)):
        if not len(p):
            continue
        best = int(np.argmax(p))
        keys = [(s.passage, s.start) for s in run.inputs.spans]
        for j, after in neighbours(keys, best):
            X.append(extension_row(r[best], r[j], float(p[best]), float(p[j]), after))
            y.append(bool(run.labels[j] and not run.labels[best]))
            owners.append((i, j))
    return np.array(X, dtype=np.float32).reshape(-1, len(EXTENSION_FEATURES)), np.array(y, dtype=int), owners


def choose_extension_threshold(oof: np.ndarray, y: np.ndarray) -> float:
    """The lowest P at which the neighbours added (P >= it, out of fold) hold the missing answer at least
    EXTENSION_PRECISION of the time."""
    order = np.argsort(-oof, kind="stable")
    precision = np.cumsum(y[order]) / np.arange(1, len(y) + 1)
    good = np.nonzero(precision >= EXTENSION_PRECISION)[0]
    return float(oof[order][good[-1]]) if len(good) else 1.0


def extended_of(owners: list[tuple[int, int]], p: np.ndarray, threshold: float) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for (i, j), value in zip(owners, p):
        if value >= threshold:
            out.setdefault(i, []).append(j)
    return out


def refusal_threshold(runs: list[Run], support: np.ndarray, target: float) -> float:
    """The lowest threshold that declines `target` of the questions whose article is not indexed (OOF)."""
    absent = np.array([r.kind == "absent_article" for r in runs])
    return float(np.quantile(support[absent], target))


def choose_threshold(
    runs: list[Run], probs: list[np.ndarray], support: np.ndarray, extended: dict[int, list[int]], weights: np.ndarray
) -> tuple[float, float]:
    """The refusal threshold: of those that decline at least TARGET_REFUSAL of the off-topic questions (articles
    not indexed), the one with the most right answers minus wrong ones (answered without the answer, answerable
    or not), out of fold, each question weighted as in training (the shipped corpus' near-topic questions
    count). A wrong quote costs as much as a right one gains: the user reads both. Returns (threshold, utility)."""
    right = np.array([bool(r.answerable and len(p) and r.labels[quoted(p, extended.get(i, []), RELATIVE_TO_BEST)].any())
                      for i, (r, p) in enumerate(zip(runs, probs))])
    has = np.array([len(p) > 0 for p in probs])
    floor = refusal_threshold(runs, support, TARGET_REFUSAL)
    best = (floor, -np.inf)
    for threshold in np.unique(np.round(support[support >= floor], 3)):
        answered = has & (support >= threshold)
        utility = float((weights * (answered & right)).sum() - (weights * (answered & ~right)).sum()) / weights.sum()
        if utility > best[1]:
            best = (float(threshold), utility)
    return best


def trade_off(runs: list[Run], probs: list[np.ndarray], support: np.ndarray, extended: dict[int, list[int]]) -> list[dict[str, float]]:
    """Out-of-fold figures at a range of thresholds: what answering more costs in wrong answers, per domain."""
    rows = []
    for threshold in np.round(np.arange(0.20, 0.80, 0.05), 2):
        row: dict[str, float] = {"threshold": float(threshold)}
        for name, of in (("xquad", lambda r: r.source == "xquad"), ("corpus", lambda r: r.source == "corpus")):
            idx = [i for i, r in enumerate(runs) if of(r)]
            grounded = {i for i in idx if support[i] >= threshold and len(probs[i])}
            answerable = [i for i in idx if runs[i].answerable]
            right = [i for i in answerable if i in grounded and runs[i].labels[quoted(probs[i], extended.get(i, []), RELATIVE_TO_BEST)].any()]
            wrong = [i for i in grounded if i not in right]
            row[f"{name}_answered"] = len(right) / len(answerable)
            row[f"{name}_wrongly_answered"] = len(wrong) / len(idx)
            for kind in ("absent_article", "absent_paragraph", "not_in_corpus"):
                of_kind = [i for i in idx if runs[i].kind == kind]
                if of_kind:
                    row[f"{name}_refused_{kind}"] = sum(i not in grounded for i in of_kind) / len(of_kind)
        rows.append({k: round(v, 3) for k, v in row.items()})
    return rows


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
    parser.add_argument("--regather", nargs="*", default=[], choices=("xquad", "corpus"),
                        help="ask these questions again instead of reusing bench/results/scorer_runs_<name>.pkl (none named: both)")
    args = parser.parse_args(argv)
    if args.regather == []:
        args.regather = [] if "--regather" not in (argv if argv is not None else sys.argv) else ["xquad", "corpus"]

    runs = []
    for name, gather in (
        ("xquad", lambda: gather_xquad(Path(args.xquad), args.cache_dir)),
        ("corpus", lambda: gather_corpus(Path(args.corpus), Path(args.questions), args.cache_dir)),
    ):
        cache = results_dir() / f"scorer_runs_{name}.pkl"
        if cache.exists() and name not in args.regather:
            part = pickle.loads(cache.read_bytes())
            print(f"reusing {len(part)} gathered {name} runs from {cache} (--regather {name} to ask again)", file=sys.stderr)
        else:
            started = time.perf_counter()
            part = gather()
            cache.write_bytes(pickle.dumps(part))
            print(f"gathered {len(part)} {name} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        runs += part

    groups = groups_of(runs)
    folds = fold_of_group(groups, CV_FOLDS)
    question_weights = np.array([CORPUS_WEIGHT if r.source == "corpus" else 1.0 for r in runs])
    kind_models, oof_kinds = fit_answer_kinds(runs, folds)
    rows = [r.rows(p) for r, p in zip(runs, oof_kinds)]
    lengths = [len(r) for r in rows]
    X = np.concatenate(rows)
    y = np.concatenate([r.labels for r in runs]).astype(int)
    row_weights = np.repeat(question_weights, lengths)
    probs = np.split(out_of_fold(X, y, row_weights, np.repeat(folds, lengths), SENTENCE_BOUNDS), np.cumsum(lengths)[:-1])
    Q = np.stack([support_row(r, p) for r, p in zip(rows, probs)])
    answerable = np.array([r.answerable for r in runs]).astype(int)
    support = out_of_fold(Q, answerable, question_weights, folds, SUPPORT_BOUNDS)
    E, e_labels, owners = extension_data(runs, rows, probs)
    e_folds = np.array([folds[i] for i, _ in owners])
    e_weights = np.array([question_weights[i] for i, _ in owners])
    e_oof = out_of_fold(E, e_labels, e_weights, e_folds, [0] * len(EXTENSION_FEATURES))
    e_threshold = choose_extension_threshold(e_oof, e_labels)
    extended = extended_of(owners, e_oof, e_threshold)
    threshold, utility = choose_threshold(runs, probs, support, extended, question_weights)
    print(f"extension: {len(E)} neighbours of best sentences, {e_labels.mean():.3f} hold the answer the best lacks; "
          f"threshold {e_threshold:.3f} adds {len(extended)} of {len(runs)} answers' neighbours")
    print(f"\ncross-validated ({CV_FOLDS} folds by article / corpus file); threshold {threshold:.3f} on P(support): the most right "
          f"minus wrong answers ({utility:.3f} per question) among those declining >= {TARGET_REFUSAL:.0%} of off-topic questions, out of fold")
    for relative in (1.0, 0.5, 0.35, 0.25):
        n = np.mean([len(quoted(p, extended.get(i, []), relative)) for i, (p, s) in enumerate(zip(probs, support)) if len(p) and s >= threshold])
        print(f"\nquoting the best sentence, its needed neighbours and others within {relative:.0%} of its probability ({n:.2f} sentences per answer):")
        print(table(figures(runs, probs, support, threshold, relative, extended)))
    curve = trade_off(runs, probs, support, extended)
    print("\ntrade-off (out of fold): answered = holds the answer, of answerable; wrongly answered = answered without it, of all")
    print("  ".join(f"{k:>12}" for k in curve[0]))
    for point in curve:
        print("  ".join(f"{v:>12.3f}" for v in point.values()))
    print("\nwithout neighbours:")
    print(table(figures(runs, probs, support, threshold, RELATIVE_TO_BEST, {})))
    cv = figures(runs, probs, support, threshold, RELATIVE_TO_BEST, extended)

    # The final models: every run (the support model on the out-of-fold sentence probabilities it was evaluated with).
    sentence = fit_logistic(X, y, row_weights, SENTENCE_BOUNDS)
    support_model = fit_logistic(Q, answerable, question_weights, SUPPORT_BOUNDS)
    extension = fit_logistic(E, e_labels, e_weights, [0] * len(EXTENSION_FEATURES))
    info = {
        "trained": time.strftime("%Y-%m-%d"),
        "data": "XQuAD dev, train split (articles with index % 3 != 2), pairs en-en de-de de-en ru-en en-de; eval/train-questions.jsonl",
        "runs": len(runs),
        "sentences": len(X),
        "threshold_rule": f"most right minus wrong answers (weighted as in training) among thresholds declining >= {TARGET_REFUSAL:.0%} of off-topic training questions, out of fold",
        "llm_threshold_rule": f"declines {LLM_TARGET_REFUSAL:.0%} of training questions whose article is not indexed, out of fold",
        "extension_rule": f"a neighbour is quoted when P >= the threshold at which {EXTENSION_PRECISION:.0%} of those added hold the missing answer, out of fold",
        "regularisation_C": C,
        "corpus_question_weight": CORPUS_WEIGHT,
        "cross_validated": cv,
        "trade_off": curve,
    }
    scorer = SentenceScorer(
        LogisticModel(FEATURES, sentence.mean, sentence.scale, sentence.coef, sentence.intercept),
        LogisticModel(SUPPORT_FEATURES, support_model.mean, support_model.scale, support_model.coef, support_model.intercept),
        threshold,
        runs[0].model,
        kind_models,
        LogisticModel(EXTENSION_FEATURES, extension.mean, extension.scale, extension.coef, extension.intercept),
        e_threshold,
        min(refusal_threshold(runs, support, LLM_TARGET_REFUSAL), threshold),
        info,
    )
    scorer.save(Path(args.out))
    (results_dir() / "scorer_training.json").write_text(json.dumps(info, indent=1))
    print(f"\nwrote {args.out}")
    for name, model, names in (("sentence", sentence, FEATURES), ("support", support_model, SUPPORT_FEATURES), ("extension", extension, EXTENSION_FEATURES)):
        ranked_weights = sorted(zip(names, model.coef), key=lambda x: -abs(x[1]))
        print(f"{name} model, standardised weights:", ", ".join(f"{n}={w:+.2f}" for n, w in ranked_weights))
    return 0


if __name__ == "__main__":
    sys.exit(main())
