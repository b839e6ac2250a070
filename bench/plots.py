"""Draw docs/ndcg_by_config.png and docs/ask_latency.png from the JSON files in bench/results/.

    .venv/bin/python bench/plots.py

Needs matplotlib (not a product dependency). Missing result files are skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, results_dir

DOCS = REPO / "docs"


def _load(name: str) -> dict | None:  # type: ignore[type-arg]
    path = results_dir() / name
    return json.loads(path.read_text()) if path.exists() else None


def ndcg_plot(plt) -> Path | None:  # type: ignore[no-untyped-def]
    """nDCG@10 on the held-out sets (SciFact test, XQuAD report split) for each list alone and the shipped fusion."""
    tuning = _load("fusion_tuning.json")
    if not tuning or "report" not in tuning:
        return None
    report = tuning["report"]
    configs = [("lexical only", "BM25 only"), ("dense only", "MiniLM only"), ("multilingual only", "USE chunks only"),
               ("sentences only", "USE sentences only"), ("shipped", "shipped fusion")]
    sets = [("scifact test", "SciFact test"), *((f"xquad {p} report", f"XQuAD {p}") for p in ("en-en", "de-de", "de-en", "ru-en", "en-de"))]
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / len(sets)
    for i, (key, label) in enumerate(sets):
        xs = [c + (i - len(sets) / 2 + 0.5) * width for c in range(len(configs))]
        ax.bar(xs, [report[name][key] for name, _ in configs], width, label=label)
    ax.set_xticks(range(len(configs)), [label for _, label in configs], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("nDCG@10 (held-out)")
    ax.set_title("Retrieval by candidate list and fused (SciFact test; XQuAD report split, question-document languages)")
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    path = DOCS / "ndcg_by_config.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_plot(plt) -> Path | None:  # type: ignore[no-untyped-def]
    ask = _load("ask_latency.json")
    baseline = _load("langchain_baseline.json")
    series = []
    if ask:
        for key, r in ask.items():
            if isinstance(r, dict) and "samples_ms" in r:
                name, _, threads = key.partition("/threads=")  # "corpus/onnx/threads=1" (older files: "corpus/threads=1")
                index, _, backend = name.partition("/")
                label = "corpus/" if index == "corpus" else "SciFact"
                runtime = f", {backend}" if backend else ""
                series.append((f"ask, {label}{runtime}\n{r['chunks']} chunks, {threads} thr", r["samples_ms"]))
    if baseline:
        threads = baseline.get("torch_threads", "?")
        series.append((f"ours retrieve k=4\ncorpus/, {threads} thr", baseline["corpus"]["ours"]["retrieve_samples_ms"]))
        series.append((f"LangChain search k=4\ncorpus/, {threads} thr", baseline["corpus"]["langchain"]["samples_ms"]))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.boxplot([s[1] for s in series], whis=(5, 95), showfliers=True)
    ax.set_xticks(range(1, len(series) + 1), [s[0] for s in series], fontsize=8)
    for i, (_, values) in enumerate(series, 1):
        ordered = sorted(values)
        p50 = ordered[len(ordered) // 2]
        ax.text(i + 0.28, p50, f"p50 {p50:.0f}", fontsize=7, va="center")
    ax.set_yscale("log")
    ax.set_ylabel("ms per question, log scale (whiskers: p5-p95)")
    ax.set_title("Latency per question, 2-core CPU")
    fig.tight_layout()
    path = DOCS / "ask_latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> int:
    import argparse

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    DOCS.mkdir(exist_ok=True)
    for fn in (ndcg_plot, latency_plot):
        path = fn(plt)
        print(f"{fn.__name__}: {path.relative_to(REPO) if path else 'no results yet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
