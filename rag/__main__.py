"""`python -m rag ask|stats|feedback ...`: the engine from the command line.

Other installed packages add subcommands through the entry-point group `kz_ai_rag.commands` (this project's
`evaluation` package adds `eval`, see pyproject.toml): each entry point names a module or object with `HELP`,
`add_arguments(parser)` and `run(args, settings) -> int`. The engine imports none of them by name.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .errors import RagError
from .settings import Settings, apply_process_defaults

COMMAND_GROUP = "kz_ai_rag.commands"


def _print_answer(answer) -> None:  # type: ignore[no-untyped-def]
    from .answering.messages import text

    print(answer.text)
    if answer.citations:
        print(f"\n{text('sources', answer.language)}:")
        for c in answer.citations:
            where = f", p. {c.page}" if c.page else ""
            print(f"  [{c.n}] {c.title} ({c.source}{where}, chars {c.start}-{c.end})" + (f"\n      {c.url}" if c.url else ""))
    elif answer.related:
        print(f"\n{text('related_head', answer.language)}:")
        for p in answer.related:
            print(f"  - {p.title} ({p.source}): {p.text[:160].strip()}…")
    for note in answer.notes:
        print(f"\nnote: {note}")


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant
    from .embedder import use_serving_threads

    settings = use_serving_threads(settings)
    assistant = Assistant(settings)
    filters = {k: v for k, v in (("language", args.language), ("source", args.source)) if v}
    questions = [" ".join(args.question)] if args.question else None
    if questions is None:  # interactive loop
        history: list[tuple[str, str]] = []
        print("Ask about Kazakhstan's AI strategy (empty line or Ctrl-D to quit).")
        while True:
            try:
                question = input("\n> ").strip()
            except EOFError:
                return 0
            if not question:
                return 0
            try:
                answer = assistant.ask(question, history, k=args.k, filters=filters)
            except RagError as exc:
                print(f"error: {exc}")
                continue
            _print_answer(answer)
            history.append((question, answer.text))
    answer = assistant.ask(questions[0], k=args.k, filters=filters)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant import Assistant

    stats = Assistant(settings).stats()
    print(json.dumps(stats) if args.json else f"{stats['documents']} documents, {stats['chunks']} chunks")
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from .feedback import FeedbackStore, feedback_path

    store = FeedbackStore(feedback_path(settings.index_dir))
    count = store.export(Path(args.export))
    print(f"exported {count} feedback entries to {args.export}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Ask the corpus about Kazakhstan's AI strategy.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer a question (interactive when no question is given)")
    ask.add_argument("question", nargs="*")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("-k", type=int, default=None, help="passages to retrieve")
    ask.add_argument("--language", help="only passages in this language (e.g. en, de)")
    ask.add_argument("--source", help="only passages from this source")
    ask.set_defaults(run=cmd_ask)
    stats = sub.add_parser("stats", help="documents and chunks in the index")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(run=cmd_stats)
    feedback = sub.add_parser("feedback", help="export thumbs up/down feedback")
    feedback.add_argument("--export", required=True, metavar="FILE.jsonl")
    feedback.set_defaults(run=cmd_feedback)
    for name, command in plugin_commands():
        extra = sub.add_parser(name, help=command.HELP)
        command.add_arguments(extra)
        extra.set_defaults(run=command.run)
    return parser


def plugin_commands() -> Iterator[tuple[str, Any]]:
    """(name, command) of the subcommands installed packages declare in the `kz_ai_rag.commands` group."""
    for point in sorted(entry_points(group=COMMAND_GROUP), key=lambda p: p.name):
        yield point.name, point.load()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        apply_process_defaults()
        settings = Settings()
        return int(args.run(args, settings))
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
