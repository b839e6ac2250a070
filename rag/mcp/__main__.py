"""`python -m rag.mcp`: the MCP server over stdio, for desktop assistants (Claude Desktop and the like).

Settings come from the environment (RAG_INDEX_DIR, ...). stdout carries the protocol and nothing else: logs go
to stderr, and the SDK points file descriptor 1 at stderr while it serves.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rag.mcp",
        description="Serve the corpus over MCP on stdin/stdout (settings from RAG_* environment variables).",
    )
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Build the settings from the environment and serve MCP over stdio until the client closes stdin."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    with contextlib.redirect_stdout(sys.stderr):  # whatever the imports and set-up print must miss the protocol
        from ..assistant import Assistant
        from ..embedder import use_serving_threads
        from ..settings import Settings, apply_process_defaults
        from .server import build_server

        apply_process_defaults()

        try:
            settings = Settings()
        except ValueError as exc:
            print(f"error: bad setting: {exc}", file=sys.stderr)
            return 2
        settings = use_serving_threads(settings)
        server = build_server(Assistant(settings), settings, warm_up=True)
    try:
        server.run("stdio")
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
