"""`python -m rag eval beir DIR ...` and `python -m rag eval qa FILE ...`: the `eval` subcommand of `python -m rag`,
declared as an entry point (group `kz_ai_rag.commands`) in pyproject.toml; `python -m evaluation` runs it alone.

With --json the last line of output is one JSON object; otherwise a readable table. Progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from rag.settings import Settings

from .beir import default_cache_dir
from .fusion import FUSIONS
from .squad import DEFAULT_PAIRS

HELP = "measure retrieval (BEIR data sets) and answers (the dev question set)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="eval_command", required=True, metavar="{beir,qa}")
    beir = sub.add_parser("beir", help="nDCG@10, recall@10/100, MRR@10 on a BEIR-format folder")
    beir.add_argument("dir", help="folder with corpus.jsonl, queries.jsonl and qrels (qrels/SPLIT.tsv or qrels-SPLIT.tsv)")
    beir.add_argument("--split", default="test", help="qrels split to score (default: test; tune on train)")
    beir.add_argument("--k", type=int, default=10, help="cut-off for nDCG, recall and MRR (default 10; recall@100 always)")
    beir.add_argument("--depth", type=int, default=300, help="chunks retrieved for recall@100 (default 300)")
    beir.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N queries of the split")
    beir.add_argument("--cache-dir", default=None, help="where evaluation indexes are kept (default: RAG_EVAL_CACHE_DIR or ~/.cache/kz-ai-rag/eval)")
    beir.add_argument("--device", choices=("cpu", "cuda", "mps", "auto"), default=None, help="embedding device (default: RAG_EMBEDDING_DEVICE)")
    beir.add_argument("--fusion", choices=FUSIONS, default=None,
                      help="fusion step to evaluate (default: the product's); weights from RAG_DENSE_WEIGHT / RAG_LEXICAL_WEIGHT")
    beir.add_argument("--json", action="store_true", help="print the report as one JSON line (the last line)")
    beir.add_argument("--no-progress", action="store_true")
    qa = sub.add_parser("qa", help="answer a question set (JSONL dev set, or SQuAD/XQuAD files) and score answers and refusals")
    qa.add_argument(
        "file",
        nargs="*",
        help="JSONL lines {id, question, lang, answer (regex or null), source (file name or null)} asked against the index; "
        "or a SQuAD JSON file / a folder of *.<lang>.json SQuAD files, indexed and asked per language pair. "
        "None: the dev set (eval/devset.jsonl) and, where it is beside the repository, XQuAD's report split "
        "(../shared/bench/xquad-dev)",
    )
    qa.add_argument("-k", type=int, default=5, help="passages checked for the expected source (default 5)")
    qa.add_argument("--pairs", default=None, help=f"SQuAD folder: question-document language pairs (default {','.join(DEFAULT_PAIRS)})")
    qa.add_argument("--split", choices=("all", "train", "report"), default=None,
                    help="SQuAD: all articles, or the train / report split (report: every third article, never trained on); "
                    "default: all for a named file, report for the default set")
    qa.add_argument("--absent-every", type=int, default=4, metavar="N",
                    help="SQuAD: leave every N-th article out of the index; its questions must be declined (default 4, 0: none)")
    qa.add_argument("--cache-dir", default=None, help="where evaluation indexes are kept (default: RAG_EVAL_CACHE_DIR or ~/.cache/kz-ai-rag/eval)")
    qa.add_argument("--device", choices=("cpu", "cuda", "mps", "auto"), default=None)
    qa.add_argument("--fusion", choices=FUSIONS, default=None, help="fusion step to evaluate (default: the product's)")
    qa.add_argument("--json", action="store_true", help="print the report as one JSON line (the last line)")
    qa.add_argument("--no-progress", action="store_true")


REPO = Path(__file__).resolve().parent.parent
DEVSET = REPO / "eval" / "devset.jsonl"
XQUAD = REPO.parent / "shared" / "bench" / "xquad-dev"


def run(args: argparse.Namespace, settings: Settings) -> int:
    for noisy in ("chromadb", "sentence_transformers", "httpx", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if getattr(args, "device", None):
        settings = settings.model_copy(update={"embedding_device": args.device})
    progress = not args.no_progress
    args.cache_dir = args.cache_dir or str(default_cache_dir(os.environ))
    if args.eval_command == "beir":
        from .beir import evaluate_beir

        if args.k < 1 or args.depth < 1:
            raise ValueError("--k and --depth must be at least 1")
        report = evaluate_beir(args.dir, settings, split=args.split, k=args.k, depth=args.depth, cache_dir=args.cache_dir,
                               limit=args.limit, progress=progress, fusion=args.fusion)
        print(json.dumps(report) if args.json else beir_table(report, args.k))
        return 0
    if args.fusion:
        settings = settings.model_copy(update={"fusion": args.fusion})
    files = list(args.file) or [str(DEVSET)] + ([str(XQUAD)] if XQUAD.is_dir() else [])
    split = args.split or ("all" if args.file else "report")
    reports = []
    for i, file in enumerate(files):
        if i:
            print()
        if not file.endswith(".jsonl"):
            from .squad import evaluate_squad

            pairs = [p.strip() for p in args.pairs.split(",")] if args.pairs else None
            report = evaluate_squad(file, settings, pairs=pairs, split=split, absent_every=args.absent_every,
                                    cache_dir=args.cache_dir, progress=progress)
            table = squad_table(report)
        else:
            from .qa import evaluate_qa

            report = evaluate_qa(file, settings, k=args.k, progress=progress)
            table = f"{file}\n" + qa_table(report, args.k) if len(files) > 1 else qa_table(report, args.k)
        reports.append(report)
        if not args.json:
            print(table, flush=True)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"sets": reports}, ensure_ascii=False))
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if value <= 1 else f"{value:.1f}"
    return str(value)


def _table(rows: list[tuple[str, Any]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {_fmt(value)}" for name, value in rows)


def beir_table(report: dict[str, Any], k: int = 10) -> str:
    s = report["settings"]
    rows = [
        ("dataset / split", f"{report['dataset']} / {report['split']} ({report['queries']} queries)"),
        (f"nDCG@{k}", report[f"ndcg@{k}"]),
        (f"recall@{k}", report[f"recall@{k}"]),
        ("recall@100", report["recall@100"]),
        (f"MRR@{k}", report[f"mrr@{k}"]),
        ("query latency p50 / p95", f"{report['query_p50_ms']:.1f} / {report['query_p95_ms']:.1f} ms"),
        ("index", f"{report['documents']} documents, {report['chunks']} chunks"
                  + (" (cached)" if report["index_cached"] else "")),
        ("ingest throughput", f"{report['ingest_chunks_per_s']:.1f} chunks/s ({report['ingest_seconds']:.0f} s)"),
        ("fusion", ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("embedding_model",))),
    ]
    return _table(rows)


def qa_table(report: dict[str, Any], k: int = 5) -> str:
    rows = [
        ("questions", f"{report['questions']} ({report['answerable']} answerable, {report['unanswerable']} not)"),
        (f"source recall@{k}", report[f"recall@{k}"]),
        ("answer matches the fact", report["answer_match"]),
        ("citation precision (quote)", report["citation_precision"]),
        ("citation precision (passage)", report["citation_passage_precision"]),
        ("refusal rate (unanswerable)", report["refusal_rate"]),
        ("false refusals (answerable)", report["false_refusal_rate"]),
        ("latency p50 / p95", f"{report['latency_p50_ms']:.0f} / {report['latency_p95_ms']:.0f} ms"),
    ]
    lines = [_table(rows)]
    if report["failing"]:
        lines.append(f"\nfailing questions ({len(report['failing'])}):")
        for f in report["failing"]:
            lines.append(f"  {f['id']}: {f['question']}\n      - " + "\n      - ".join(f["problems"]))
    return "\n".join(lines)


def squad_table(report: dict[str, Any]) -> str:
    head = f"{report['set']} (split {report['split']}, every {report['absent_every']}th article left out of the index)"
    columns = ("pair", "answered", "false_refusals", "wrong_answers", "refused_absent", "answerable", "unanswerable", "latency_p50_ms")
    lines = [head, "  ".join(f"{c:>14}" for c in columns)]
    for row in report["pairs"]:
        lines.append("  ".join(f"{_fmt(row[c]):>14}" for c in columns))
    return "\n".join(lines)
