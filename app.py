"""`python app.py [--host 127.0.0.1] [--port 7860]`: the chat page at / and the REST API at /api (docs at /docs).

The entry point assembles what the engine may not import: the ingester behind document uploads (ingest.uploads).
"""

import sys


def build_ingester(settings, assistant):  # type: ignore[no-untyped-def]
    """The app's ingester: `python -m ingest`'s run, with the models the assistant already holds."""
    from ingest.uploads import FileIngester

    return FileIngester(settings, assistant.embedder, assistant.multilingual)


def main() -> int:
    from rag.settings import apply_process_defaults

    apply_process_defaults()  # before gradio, chromadb and transformers are imported
    from rag.server import main as serve

    return serve(sys.argv[1:], ingester=build_ingester)


if __name__ == "__main__":
    sys.exit(main())
