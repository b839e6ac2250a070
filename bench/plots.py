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
    tuning = _load("fusion_tuning.json")
    if not tuning:
        return None
    rows = {r["name"]: r for r in tuning["rows"]}
    names = ["bm25 only", "dense only", tuning["default"], *[tuning["best"][f] for f in ("rrf", "convex")]]
    labels = ["BM25 only", "dense only", f"RRF default\n({tuning['default'][4:]})", f"RRF tuned\n({tuning['best']['rrf'][4:]})",
              f"convex tuned\n({tuning['best']['convex'][7:]})"]
    bars = [(label, rows[n]["train"]["ndcg@10"], rows[n]["test"]["ndcg@10"]) for label, n in zip(labels, names)]
    baseline = _load("langchain_baseline.json")
    if baseline and "scifact" in baseline:
        bars.append(("LangChain tutorial\n(dense, 1000/200)", None, baseline["scifact"]["langchain"]["ndcg@10"]))
    fig, ax = plt.subplots(figsize=(10, 4.8))
    xs = range(len(bars))
    width = 0.38
    ax.bar([x - width / 2 for x in xs], [b[1] or 0 for b in bars], width, label="train (809 claims; tuning)", color="#9bb7d4")
    ax.bar([x + width / 2 for x in xs], [b[2] for b in bars], width, label="test (300 claims)", color="#1f4e79")
    for x, b in zip(xs, bars):
        ax.text(x + width / 2, b[2] + 0.004, f"{b[2]:.3f}", ha="center", fontsize=8)
    ax.axhline(0.70, color="#c0392b", lw=1, ls="--", label="target 0.70")
    ax.set_xticks(list(xs), [b[0] for b in bars], fontsize=8)
    ax.set_ylim(0.5, 0.8)
    ax.set_ylabel("nDCG@10")
    ax.set_title(f"SciFact nDCG@10 by retrieval configuration (all-MiniLM-L6-v2, {tuning['chunks']} chunks)")
    ax.legend(fontsize=8, loc="upper left")
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
                name, _, threads = key.partition("/threads=")
                label = "corpus/" if name == "corpus" else "SciFact"
                series.append((f"ask, {label}\n{r['chunks']} chunks, {threads} thr", r["samples_ms"]))
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
