"""`python -m ingest PATH... [--rebuild] [--wait SECONDS] [--json]`: index files, folders and web pages."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from rag.errors import RagError
from rag.settings import Settings, apply_process_defaults

from .index import Indexer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Add or update documents in the index.")
    parser.add_argument("paths", nargs="+", help="files, folders or http(s) URLs (.md .txt .html .pdf .docx)")
    parser.add_argument("--rebuild", action="store_true", help="drop the index and build it anew (e.g. after changing the model)")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for another ingest to finish")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors and the summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "sentence_transformers", "chromadb", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        apply_process_defaults()
        settings = Settings()
        report = Indexer(settings).run(args.paths, rebuild=args.rebuild, progress=not args.quiet, wait_seconds=args.wait)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # invalid settings from the environment
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    for name, reason in report.failed:
        print(f"failed: {name}: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps({**{k: v for k, v in report.__dict__.items()}, "ok": report.ok}, default=list))
    else:
        if not args.quiet and report.chunks_added:
            print(f"time: {report.stages()}")
        print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
