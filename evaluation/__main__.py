"""`python -m evaluation beir|qa ...`: the same as `python -m rag eval beir|qa ...`."""

from __future__ import annotations

import argparse
import logging
import sys

from rag.errors import RagError
from rag.settings import Settings, apply_process_defaults

from . import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=cli.HELP)
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        apply_process_defaults()
        return cli.run(args, Settings())
    except (RagError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
