"""Measure the multilingual model's language offsets (rag/language_offsets.py) and check them on held-out text.

    .venv/bin/python bench/language_offsets.py [--xquad ../shared/bench/xquad-dev] [--out rag/language_offsets.json]

XQuAD is parallel: the same questions and paragraphs in English, German and Russian. On the **train** split
(articles with index % 3 != 2), a language's offset is the mean of its vectors minus the mean of the English
ones, for questions ("query: ") and for paragraphs ("passage: ") apart. On the **report** split (never used
to measure), each German or Russian question is asked against a pool of every report article's English
sentences and the sentences in the question's language of the *other* report articles (a corpus where one's
own language is there, but about something else): how often the top sentence holds the answer, and how often
it is English, with and without the offsets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO
from evaluation.squad import in_split, load_squad
from rag.language_offsets import DEFAULT_PATH, LanguageOffsets
from rag.multilingual import MODEL_NAMES, RAW_E5, MultilingualE5
from rag.settings import Settings
from rag.text import sentence_spans

LANGUAGES = ("en", "de", "ru")


def measure(model: MultilingualE5, articles: dict) -> LanguageOffsets:
    means: dict[str, dict[str, np.ndarray]] = {"query": {}, "passage": {}}
    for language in LANGUAGES:
        kept = [a for a in articles[language] if in_split(a.index, "train")]
        means["query"][language] = model.embed_queries([q.question for a in kept for q in a.questions]).mean(0)
        means["passage"][language] = model.embed_documents([p for a in kept for p in a.paragraphs]).mean(0)
    return LanguageOffsets(*({l: m[l] - m["en"] for l in LANGUAGES if l != "en"} for m in (means["query"], means["passage"])))


def check(model: MultilingualE5, articles: dict, offsets: LanguageOffsets) -> dict[str, dict[str, float]]:
    report = [a.index for a in articles["en"] if in_split(a.index, "report")]
    pools = {}
    for language in LANGUAGES:
        items = [(a, p[s:e]) for a in report for p in articles[language][a].paragraphs for s, e in sentence_spans(p)]
        pools[language] = (items, model.embed_documents([text for _, text in items]))
    answers = {q.id: q.answers for a in report for q in articles["en"][a].questions}
    figures = {}
    for language in ("de", "ru"):
        questions = [q for a in report for q in articles[language][a].questions]
        raw_q = model.embed_queries([q.question for q in questions])
        (en_items, en_v), (own_items, own_v) = pools["en"], pools[language]
        for mode in ("raw", "offsets removed"):
            if mode == "raw":
                qv, ev, ov = raw_q, en_v, own_v
            else:
                qv = offsets.queries(raw_q, [language] * len(raw_q))
                ev, ov = en_v, offsets.passages(own_v, [language] * len(own_v))
            held = english = 0
            for q, v in zip(questions, qv):
                other = np.array([a != q.article for a, _ in own_items])
                items = en_items + [x for x, keep in zip(own_items, other) if keep]
                top = int(np.argmax(np.vstack([ev, ov[other]]) @ v))
                held += any(ans.lower() in items[top][1].lower() for ans in answers[q.id])
                english += top < len(en_items)
            figures[f"{language} {mode}"] = {"top_holds_answer": held / len(questions), "top_is_english": english / len(questions),
                                              "questions": len(questions)}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", default=str(REPO.parent / "shared" / "bench" / "xquad-dev"))
    parser.add_argument("--out", default=str(DEFAULT_PATH))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = MultilingualE5(Settings().model_cache, 2)
    articles = {language: load_squad(Path(args.xquad) / f"xquad-dev.{language}.json") for language in LANGUAGES}
    offsets = measure(model, articles)
    figures = check(model, articles, offsets)
    for name, row in figures.items():
        print(f"{name:<20} top sentence holds the answer {row['top_holds_answer']:.3f}, is English {row['top_is_english']:.3f} "
              f"({row['questions']} report-split questions)")
    entry = {
        "raw_model": RAW_E5,
        "measured_on": "XQuAD dev, train split (articles with index % 3 != 2): mean vector per language minus English's",
        "report_split_check": figures,
        "query": {k: [round(float(x), 6) for x in v] for k, v in offsets.query.items()},
        "passage": {k: [round(float(x), 6) for x in v] for k, v in offsets.passage.items()},
    }
    Path(args.out).write_text(json.dumps({"models": {MODEL_NAMES["e5"]: entry}}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
