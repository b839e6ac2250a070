"""How well each model's question-sentence similarity tells answerable questions from the rest (a diagnostic).

    .venv/bin/python bench/sentence_signal.py [--questions eval/train-questions.jsonl] [--corpus corpus/]

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(REPO / "eval" / "train-questions.jsonl"))
    parser.add_argument("--corpus", default=str(REPO / "corpus"))
    args = parser.parse_args()
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
