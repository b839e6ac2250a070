"""Where the verifier's similarity bar for an LLM sentence should lie, with the multilingual model (e5).

    .venv/bin/python bench/verify_threshold.py [--xquad ../shared/bench/xquad-dev]

An LLM sentence is kept when a sentence of the passage it cites is close enough in meaning. Measured on
XQuAD's train split (articles with index % 3 != 2), whose paragraphs are translations of each other: where a
paragraph splits into as many sentences in English as in German (or Russian), sentence i says what sentence i
says in the other language, and the paragraph's other sentences say something else on the same topic.
- supported: a German or Russian sentence against its English sentence (an answer written in the asker's
  language about an English passage), and an English sentence against its German one;
- not supported: the same sentence against the other sentences of the same paragraph (same topic, another claim).
For each pair the verifier's test is "the best passage sentence reaches the bar": the script prints, for a
range of bars, the share of supported sentences kept and of unsupported ones kept, and the bar that keeps at
most MAX_UNSUPPORTED of them. Writes bench/results/verify_threshold.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, save  # noqa: E402

# The share of same-topic, other-claim sentences the verifier may let through on meaning alone: the names and
# numbers check stops most wrong claims of that kind before the similarity is read.
MAX_UNSUPPORTED = 0.10
PAIRS = (("de", "en"), ("ru", "en"), ("en", "de"))


def split(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if len(s.split()) >= 4]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", default=str(REPO.parent / "shared" / "bench" / "xquad-dev"))
    args = parser.parse_args()
    from rag.multilingual import MultilingualE5
    from rag.settings import Settings

    settings = Settings(torch_threads=1)
    model = MultilingualE5(settings.model_cache, 1)
    data = {lang: json.loads((Path(args.xquad) / f"xquad-dev.{lang}.json").read_text(encoding="utf-8"))["data"] for lang in ("en", "de", "ru")}
    supported, unsupported = [], []
    for answer_lang, passage_lang in PAIRS:
        for index, (a, p) in enumerate(zip(data[answer_lang], data[passage_lang])):
            if index % 3 == 2:
                continue  # the report split
            for pa, pp in zip(a["paragraphs"], p["paragraphs"]):
                claims, sentences = split(pa["context"]), split(pp["context"])
                if len(claims) != len(sentences) or len(claims) < 2:
                    continue
                sims = model.embed_documents(claims) @ model.embed_documents(sentences).T
                for i in range(len(claims)):
                    supported.append(float(sims[i, i]))
                    unsupported.append(float(np.delete(sims[i], i).max()))
    supported_a, unsupported_a = np.asarray(supported), np.asarray(unsupported)
    curve = []
    for bar in np.round(np.arange(0.80, 0.96, 0.01), 2):
        curve.append({"bar": float(bar), "supported_kept": round(float((supported_a >= bar).mean()), 3),
                      "unsupported_kept": round(float((unsupported_a >= bar).mean()), 3)})
    chosen = next(p["bar"] for p in curve if p["unsupported_kept"] <= MAX_UNSUPPORTED)
    print(f"{len(supported)} sentence pairs ({', '.join(f'{a}->{b}' for a, b in PAIRS)}), train split")
    for point in curve:
        print(f"bar {point['bar']:.2f}: supported kept {point['supported_kept']:.3f}, unsupported kept {point['unsupported_kept']:.3f}")
    print(f"lowest bar keeping <= {MAX_UNSUPPORTED:.0%} of unsupported sentences: {chosen:.2f}")
    save("verify_threshold.json", {"pairs": len(supported), "curve": curve, "chosen": chosen, "max_unsupported": MAX_UNSUPPORTED})
    return 0


if __name__ == "__main__":
    sys.exit(main())
