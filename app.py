"""Placeholder until the web app lands: an interactive question loop over the index."""

import sys

from rag.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["ask"]))
