"""LLM answers on the dev question set: how much verification drops, and answer accuracy with and without the LLM.

    .venv/bin/python bench/llm_devset.py [eval/devset.jsonl] [--generator local] [--limit N] [--out FILE.json]

Both assistants use the index of the current settings (RAG_INDEX_DIR, default .rag-index/) and one embedder.
Figures:
- answer_match: share of answerable questions whose answer text matches the fact regex (a refusal does not);
- refusals on unanswerable questions (the gate is the same for both, so these should be equal);
- llm_sentences / dropped_share: sentences the LLM wrote for grounded questions, and the share verification
  dropped; llm_used: share of grounded answers that are the LLM's (the rest fell back to the extractive one).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import common


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", default=str(common.REPO / "eval" / "devset.jsonl"))
    parser.add_argument("--generator", default="local", choices=("local", "openai", "ollama"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", default=None, help="also write per-question details to this JSON file")
    args = parser.parse_args()

    from rag import Assistant, Settings
    from rag.answering.drafts import split_draft
    from rag.embedder import SentenceTransformerEmbedder

    base = Settings()
    embedder = SentenceTransformerEmbedder(base)
    plain = Assistant(base, embedder=embedder)
    llm = Assistant(base.model_copy(update={"generator": args.generator}), embedder=embedder)
    rows = [json.loads(line) for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows

    details = []
    started = time.perf_counter()
    for i, row in enumerate(rows, 1):
        fact = re.compile(row["answer"], re.IGNORECASE) if row.get("answer") else None
        a = plain.ask(row["question"])
        b = llm.ask(row["question"])
        failed = [n for n in b.notes if "check RAG_" in n]
        fell_back = any("could not be verified" in n for n in b.notes)
        from_llm = b.grounded and not failed and not fell_back
        kept = len(split_draft(b.text)) if from_llm else 0
        details.append(
            {
                "id": row["id"],
                "answerable": fact is not None,
                "extractive_grounded": a.grounded,
                "llm_grounded": b.grounded,
                "extractive_match": bool(fact and a.grounded and fact.search(a.text)),
                "llm_match": bool(fact and b.grounded and fact.search(b.text)),
                "from_llm": from_llm,
                "llm_failed": bool(failed),
                "kept": kept,
                "dropped": len(b.dropped),
                "llm_answer": b.text,
                "dropped_sentences": list(b.dropped),
                "notes": list(b.notes),
                "generate_ms": round(b.timings_ms.get("generate", 0.0)),
                "verify_ms": round(b.timings_ms.get("verify", 0.0)),
            }
        )
        print(f"{i}/{len(rows)} {row['id']} llm={'yes' if from_llm else 'no'} kept={kept} dropped={len(b.dropped)}", file=sys.stderr)

    answerable = [d for d in details if d["answerable"]]
    unanswerable = [d for d in details if not d["answerable"]]
    grounded = [d for d in details if d["llm_grounded"]]
    sentences = sum(d["kept"] + d["dropped"] for d in grounded)
    dropped = sum(d["dropped"] for d in grounded)

    def share(flags: list[bool]) -> float | None:
        return round(sum(flags) / len(flags), 3) if flags else None

    summary = {
        "questions": len(details),
        "answerable": len(answerable),
        "generator": args.generator,
        "answer_match_extractive": share([d["extractive_match"] for d in answerable]),
        "answer_match_llm": share([d["llm_match"] for d in answerable]),
        "refusal_rate_extractive": share([not d["extractive_grounded"] for d in unanswerable]),
        "refusal_rate_llm": share([not d["llm_grounded"] for d in unanswerable]),
        "grounded_answers": len(grounded),
        "llm_used": share([d["from_llm"] for d in grounded]),
        "llm_failures": sum(d["llm_failed"] for d in details),
        "llm_sentences": sentences,
        "dropped_sentences": dropped,
        "dropped_share": round(dropped / sentences, 3) if sentences else None,
        "median_generate_ms": sorted(d["generate_ms"] for d in grounded)[len(grounded) // 2] if grounded else None,
        "median_verify_ms": sorted(d["verify_ms"] for d in grounded)[len(grounded) // 2] if grounded else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "details": details}, indent=1, ensure_ascii=False))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
